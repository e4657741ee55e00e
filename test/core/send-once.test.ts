// Cluster mode's idempotency keys on sends: a turn that runs again (after a failover) derives the
// same `<request id>/<step>` keys, and a send whose key another run recorded is not sent again.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Outbound } from "../../src/domain/model.ts"
import { Router } from "../../src/core/Router.ts"
import { SendOnce } from "../../src/core/SendOnce.ts"
import { Store } from "../../src/store/Store.ts"

/** One shared "Postgres" of sent keys, and a Router (one daemon's) that uses it. */
const sharedKeys = () => {
  const keys = new Set<string>()
  const layer = Layer.succeed(SendOnce, SendOnce.of({
    sent: (key) => Effect.sync(() => keys.has(key)),
    record: (key) => Effect.sync(() => void keys.add(key))
  }))
  return { keys, layer }
}

const daemon = (once: Layer.Layer<SendOnce>) =>
  Effect.gen(function*() {
    const store = yield* Store.make({ path: ":memory:", durability: "process" })
    const router = yield* Router.make({ attempts: 1, baseDelayMs: 1 }).pipe(
      Effect.provideService(Store, store),
      Effect.provide(once)
    )
    const sent: Array<Outbound> = []
    yield* router.register({ channel: "telegram", send: (_t, m) => Effect.sync(() => void sent.push(m)) })
    return { router, sent }
  })

/** A turn that notifies twice, then replies. */
const turn = (router: Router["Service"], requestId: string) =>
  Effect.gen(function*() {
    yield* router.deliver("telegram:1", { kind: "notify", text: "working", requestId }, { explicit: true })
    yield* router.deliver("telegram:1", { kind: "notify", text: "still working", requestId }, { explicit: true })
    yield* router.deliver("telegram:1", { kind: "reply", text: "done", requestId }, { explicit: true })
  })

describe("idempotency keys on sends (cluster mode)", () => {
  it.effect("a turn run again on another daemon sends nothing its first run sent", () =>
    Effect.gen(function*() {
      const shared = sharedKeys()
      const first = yield* daemon(shared.layer)
      const second = yield* daemon(shared.layer)
      yield* turn(first.router, "telegram:1001")
      yield* turn(second.router, "telegram:1001")
      assert.deepStrictEqual(first.sent.map((m) => m.text), ["working", "still working", "done"])
      assert.deepStrictEqual(second.sent, [])
      assert.deepStrictEqual([...shared.keys].sort(), ["telegram:1001/1", "telegram:1001/2", "telegram:1001/3"])
    }).pipe(Effect.scoped))

  it.effect("a run cut off after its first message: the re-run sends only what is missing", () =>
    Effect.gen(function*() {
      const shared = sharedKeys()
      const first = yield* daemon(shared.layer)
      yield* first.router.deliver("telegram:1", { kind: "notify", text: "working", requestId: "r" }, { explicit: true })
      const second = yield* daemon(shared.layer)
      yield* turn(second.router, "r")
      assert.deepStrictEqual(second.sent.map((m) => m.text), ["still working", "done"])
    }).pipe(Effect.scoped))

  it.effect("the next request of the same chat has keys of its own; without SendOnce nothing is keyed", () =>
    Effect.gen(function*() {
      const shared = sharedKeys()
      const one = yield* daemon(shared.layer)
      yield* turn(one.router, "a")
      yield* turn(one.router, "b")
      assert.strictEqual(one.sent.length, 6)
      assert.deepStrictEqual(one.sent.map((m) => m.deliveryKey), ["a/1", "a/2", "a/3", "b/1", "b/2", "b/3"])
      const plain = yield* Effect.gen(function*() {
        const store = yield* Store.make({ path: ":memory:", durability: "process" })
        const router = yield* Router.make({ attempts: 1, baseDelayMs: 1 }).pipe(Effect.provideService(Store, store))
        const sent: Array<Outbound> = []
        yield* router.register({ channel: "telegram", send: (_t, m) => Effect.sync(() => void sent.push(m)) })
        yield* turn(router, "a")
        yield* turn(router, "a")
        return sent
      })
      assert.strictEqual(plain.length, 6)
      assert.isTrue(plain.every((m) => m.deliveryKey === undefined))
    }).pipe(Effect.scoped))

  it.effect("a channel that keeps the key itself (the shared inbox) gets every send with its key; SendOnce is not asked", () =>
    Effect.gen(function*() {
      const asked: Array<string> = []
      const once = Layer.succeed(SendOnce, SendOnce.of({
        sent: (key) => Effect.sync(() => (asked.push(key), true)),
        record: (key) => Effect.sync(() => void asked.push(key))
      }))
      const store = yield* Store.make({ path: ":memory:", durability: "process" })
      const router = yield* Router.make({ attempts: 1, baseDelayMs: 1 }).pipe(Effect.provideService(Store, store), Effect.provide(once))
      const got: Array<Outbound> = []
      yield* router.register({ channel: "http", dedupes: true, send: (_t, m) => Effect.sync(() => void got.push(m)) })
      yield* router.deliver("http:me", { kind: "reply", text: "done", requestId: "r" }, { explicit: true })
      yield* router.deliver("http:me", { kind: "reply", text: "done", requestId: "r" }, { explicit: true })
      assert.deepStrictEqual(got.map((m) => m.deliveryKey), ["r/1", "r/1"])
      assert.deepStrictEqual(asked, [])
    }).pipe(Effect.scoped))
})
