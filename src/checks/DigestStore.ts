// Where digest items wait for their flush: in the durable Store (a restart keeps the hour's items),
// or in memory for tests. Bounded per target: beyond `maxItems` the oldest are dropped and counted
// (the digest says so).
import { Context, Effect, Layer } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Store } from "../store/Store.ts"
import { addDigestItem, type DigestRow, digestRows, digestSize, removeDigest } from "../store/tables/digest.ts"
import { SEVERITIES, type Severity } from "./checkFile.ts"
import type { DigestItem } from "./digestRender.ts"

const WHYS: ReadonlyArray<DigestItem["why"]> = ["rule", "flapping", "cooldown", "storm", "quiet"]

/** A row as an item; a row this version does not know how to read (edited by hand) is skipped. */
const itemOf = (row: DigestRow): DigestItem | undefined =>
  (SEVERITIES as ReadonlyArray<string>).includes(row.severity) && (WHYS as ReadonlyArray<string>).includes(row.why)
    ? {
      seq: Number(row.seq),
      target: row.target,
      group: row.grp,
      severity: row.severity as Severity,
      at: Number(row.at),
      text: row.text,
      why: row.why as DigestItem["why"]
    }
    : undefined

export interface PendingDigest {
  readonly target: string
  readonly items: ReadonlyArray<DigestItem>
  /** Items dropped for this target since its last digest. */
  readonly dropped: number
}

export class DigestStore extends Context.Service<DigestStore, {
  readonly add: (item: Omit<DigestItem, "seq">) => Effect.Effect<void>
  /** Everything waiting, per target (oldest first). */
  readonly pending: Effect.Effect<ReadonlyArray<PendingDigest>>
  /** Forget what a digest showed: items up to `seq`, and the drop count it reported. */
  readonly remove: (target: string, upToSeq: number, dropped: number) => Effect.Effect<void>
  readonly size: Effect.Effect<number>
}>()("switchboard/DigestStore") {
  /** In the Store, SWITCHBOARD_DIGEST_MAX_ITEMS per target. */
  static readonly layer = Layer.effect(
    DigestStore,
    Effect.gen(function*() {
      const maxItems = (yield* GatewayConfig).checks.digestMaxItems
      const store = yield* Store
      return DigestStore.of({
        add: (item) =>
          store.transaction("digest add", (db) =>
            addDigestItem(db, { target: item.target, grp: item.group, severity: item.severity, at: item.at, text: item.text, why: item.why }, maxItems)),
        pending: store.read("digest pending", (db) => {
          const { dropped, items } = digestRows(db)
          const byTarget = new Map<string, { items: Array<DigestItem>; dropped: number }>()
          const boxOf = (target: string) => {
            const box = byTarget.get(target) ?? { items: [], dropped: 0 }
            byTarget.set(target, box)
            return box
          }
          for (const row of items) {
            const item = itemOf(row)
            if (item !== undefined) boxOf(item.target).items.push(item)
          }
          for (const d of dropped) boxOf(d.target).dropped = Number(d.dropped)
          return [...byTarget.entries()].map(([target, box]) => ({ target, items: box.items, dropped: box.dropped }))
        }),
        remove: (target, upToSeq, dropped) => store.transaction("digest remove", (db) => removeDigest(db, target, upToSeq, dropped)),
        size: store.read("digest size", digestSize)
      })
    })
  )
}
