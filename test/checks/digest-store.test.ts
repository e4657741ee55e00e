// The digest's items live in the durable store: what waits for the next digest is still there after
// the daemon died (the file opened again without a clean stop), the per-target bound drops the
// oldest and counts them, and a flushed digest removes exactly what it showed.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Scope } from "effect"
import { DigestStore } from "../../src/checks/DigestStore.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { Store } from "../../src/store/Store.ts"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "switchboard-digest-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A DigestStore on the file, in a scope the test never closes before opening the next (a crash). */
const open = (path: string, maxItems = 100) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = DigestStore.layer.pipe(
      Layer.provide(Layer.effect(Store, Store.make({ path, durability: "process" }))),
      Layer.provide(GatewayConfig.test((s) => ({ ...s, checks: { ...s.checks, digestMaxItems: maxItems } })))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    return Context.get(context, DigestStore)
  })

const item = (target: string, text: string, at: number) =>
  ({ target, group: "check web", severity: "warning", at, text, why: "flapping" }) as const

describe("the digest store", () => {
  it.effect("items waiting for the digest survive a crash, in their order, per target", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "switchboard.db")
      const first = yield* open(path)
      yield* first.add(item("http:me", "web is failing", 1))
      yield* first.add(item("telegram:1", "db slow", 2))
      yield* first.add(item("http:me", "web ok again", 3))
      const again = yield* open(path)
      const pending = yield* again.pending
      assert.deepStrictEqual(pending.map((p) => [p.target, p.items.map((i) => i.text), p.dropped]), [
        ["http:me", ["web is failing", "web ok again"], 0],
        ["telegram:1", ["db slow"], 0]
      ])
      assert.strictEqual(yield* again.size, 3)
    }).pipe(Effect.scoped))

  it.effect("beyond the bound the oldest are dropped and counted; a flush removes what it showed and its count", () =>
    Effect.gen(function*() {
      const path = join(yield* tempDir, "switchboard.db")
      const digest = yield* open(path, 2)
      for (const n of [1, 2, 3, 4]) yield* digest.add(item("http:me", `flap ${n}`, n))
      const [box] = yield* digest.pending
      assert.deepStrictEqual([box!.items.map((i) => i.text), box!.dropped], [["flap 3", "flap 4"], 2])
      // A digest showed flap 3 and the two dropped; flap 4 was not in it, flap 5 comes later.
      yield* digest.remove("http:me", box!.items[0]!.seq, 2)
      yield* digest.add(item("http:me", "flap 5", 5))
      const after = yield* (yield* open(path, 2)).pending
      assert.deepStrictEqual(after.map((p) => [p.items.map((i) => i.text), p.dropped]), [[["flap 4", "flap 5"], 0]])
      yield* digest.remove("http:me", Number.MAX_SAFE_INTEGER, 0)
      assert.deepStrictEqual(yield* digest.pending, [])
    }).pipe(Effect.scoped))
})
