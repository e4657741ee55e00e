// Pending system events and Telegram's acknowledgement state on a real SQLite file: what a crash
// leaves (the file reopened while the first connection never closed) is what the next start finds.
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Scope } from "effect"
import { telegramKept } from "../../src/channels/telegram/durable.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { HeartbeatWake } from "../../src/heartbeat/HeartbeatWake.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { Store } from "../../src/store/Store.ts"
import { tempStateDir } from "../support/harness.ts"

/** One run's SystemEvents and HeartbeatWake on the store file, with `relayKept` as the daemon composes it. */
const run = (stateDir: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = SystemEvents.relayKept.pipe(
      Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
      Layer.provideMerge(Store.layer),
      Layer.provideMerge(GatewayConfig.test((s) => ({ ...s, stateDir, heartbeat: { ...s.heartbeat, eventsPerKey: 2 } })))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    return { events: Context.get(context, SystemEvents), wake: Context.get(context, HeartbeatWake), store: Context.get(context, Store) }
  })

describe("system events in the store", () => {
  it.effect("pending events survive a crash in order per key, consumed ones do not, and each kept key is woken", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const first = yield* run(dir)
      const a = yield* first.events.enqueue("http:alice", "build finished", { contextKey: "job-1", trusted: true })
      yield* first.events.enqueue("telegram:7", "deploy failed")
      yield* first.events.enqueue("http:alice", "tests passed")
      yield* first.events.enqueue("http:alice", "lint passed") // beyond 2 per key: the oldest is dropped
      yield* first.events.enqueue("discord:9", "done")
      yield* first.events.consume("discord:9", (yield* first.events.peek("discord:9")).map((e) => e.id))
      assert.strictEqual(a?.text, "build finished")

      // The first run never stops: the second opens the same file.
      const second = yield* run(dir)
      assert.deepStrictEqual((yield* second.events.peek("http:alice")).map((e) => e.text), ["tests passed", "lint passed"])
      assert.deepStrictEqual((yield* second.events.peek("telegram:7")).map((e) => [e.text, e.trusted]), [["deploy failed", false]])
      assert.deepStrictEqual(yield* second.events.peek("discord:9"), [])
      const woken = (yield* second.wake.stats).pending.map((p) => [p.sessionKey, p.reason]).sort()
      assert.deepStrictEqual(woken, [["http:alice", "exec-event"], ["telegram:7", "exec-event"]])
      // New ids go on after the kept ones.
      const next = yield* second.events.enqueue("telegram:7", "again")
      const ids = (yield* second.events.peek("telegram:7")).map((e) => e.id)
      assert.strictEqual(new Set(ids).size, 2)
      assert.strictEqual(ids[1], next?.id)
      yield* second.events.drain("telegram:7")
      const third = yield* run(dir)
      assert.deepStrictEqual(yield* third.events.peek("telegram:7"), [])
      assert.strictEqual((yield* third.store.stats).rows["system_events"], 2)
    }))
})

describe("Telegram's offset and update ids in the store", () => {
  it.effect("the offset and the newest ids come back per bot; old ids are trimmed", () =>
    Effect.gen(function*() {
      const store = yield* Store.make({ path: join(yield* tempStateDir, "switchboard.db"), durability: "process" })
      const first = yield* telegramKept(store, "111", 150)
      assert.strictEqual(first.offset, undefined)
      for (let id = 1; id <= 300; id++) yield* first.see(id)
      yield* first.unsee(300)
      yield* first.saveOffset(300)
      const again = yield* telegramKept(store, "111", 150)
      assert.strictEqual(again.offset, 300)
      assert.strictEqual(again.seen.length, 150)
      assert.deepStrictEqual([again.seen[0], again.seen.at(-1)], [150, 299])
      const otherBot = yield* telegramKept(store, "222", 150)
      assert.deepStrictEqual([otherBot.offset, otherBot.seen], [undefined, []])
    }))
})
