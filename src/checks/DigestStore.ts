// Where digest items wait for their flush. Behind this small interface so that the durable Store
// can keep them (they should survive a restart); in memory until then. Bounded per target: beyond
// `maxItems` the oldest are dropped and counted (the digest says so).
import { Context, Effect, Layer } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import type { DigestItem } from "./digestRender.ts"

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
  /** In memory, SWITCHBOARD_DIGEST_MAX_ITEMS per target. */
  static readonly memory = Layer.effect(
    DigestStore,
    Effect.map(GatewayConfig, (config) => {
      const maxItems = config.checks.digestMaxItems
      const byTarget = new Map<string, { items: Array<DigestItem>; dropped: number }>()
      const counter = { seq: 0 }
      return DigestStore.of({
        add: (item) =>
          Effect.sync(() => {
            const box = byTarget.get(item.target) ?? { items: [], dropped: 0 }
            byTarget.set(item.target, box)
            box.items.push({ ...item, seq: ++counter.seq })
            if (box.items.length > maxItems) box.dropped += box.items.splice(0, box.items.length - maxItems).length
          }),
        pending: Effect.sync(() =>
          [...byTarget.entries()].map(([target, box]) => ({ target, items: [...box.items], dropped: box.dropped }))
        ),
        remove: (target, upToSeq, dropped) =>
          Effect.sync(() => {
            const box = byTarget.get(target)
            if (box === undefined) return
            box.items = box.items.filter((i) => i.seq > upToSeq)
            box.dropped = Math.max(0, box.dropped - dropped)
            if (box.items.length === 0 && box.dropped === 0) byTarget.delete(target)
          }),
        size: Effect.sync(() => [...byTarget.values()].reduce((n, b) => n + b.items.length, 0))
      })
    })
  )
}
