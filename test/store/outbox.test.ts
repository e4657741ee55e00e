// The write-ahead outbox on the store: a reply is committed in the transaction that removes its
// request (both or neither), it stays stored until its channel confirmed the send, and what a crash
// leaves stored is sent by the next start. Real SQLite files in temp dirs, the TestClock for retries.
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import { defaultOutboxPolicy, Router } from "../../src/core/Router.ts"
import { DeliveryFailed } from "../../src/domain/errors.ts"
import { Store, type StoreOptions } from "../../src/store/Store.ts"
import { insertOutbox, loadOutbox, removeOutbox, updateOutboxAttempt } from "../../src/store/tables/outbox.ts"
import { insertQueued, loadQueue } from "../../src/store/tables/queue.ts"
import { tempStateDir, until } from "../support/harness.ts"

/** A store and a Router on it, in a scope of their own: closing it is a stop, leaving it open and starting another is a crash. */
const life = (options: StoreOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const store = yield* Store.make(options).pipe(Scope.provide(scope))
    const router = yield* Router.make({ attempts: 1, baseDelayMs: 0 }, defaultOutboxPolicy).pipe(
      Effect.provideService(Store, store),
      Scope.provide(scope)
    )
    return { store, router, scope }
  })

const rows = (store: Store["Service"]) =>
  store.read("look", (db) => ({
    queue: loadQueue(db).items.map((r) => r.request.id),
    outbox: loadOutbox(db).entries.map((e) => `${e.target}: ${e.message.text}`)
  }))

const queued = (store: Store["Service"], id: string) =>
  store.transaction("queue", (db) =>
    insertQueued(db, { id, source: "tg:1", text: "question", priority: "human", receivedAt: 0 }, 0, 0))

describe("the outbox table", () => {
  it.effect("rows come back oldest first with their target, message, attempts and last error", () =>
    Effect.gen(function*() {
      const { store } = yield* life({ path: ":memory:", durability: "process" })
      const keys = yield* store.transaction("fill", (db) => [
        insertOutbox(db, { target: "tg:1", message: { kind: "reply", text: "one", requestId: "r1" }, since: 5, attempts: 0, lastError: "" }),
        insertOutbox(db, { target: "tg:2", message: { kind: "notify", text: "two" }, since: 6, attempts: 0, lastError: "" }),
        insertOutbox(db, { target: "tg:1", message: { kind: "error", text: "three" }, since: 7, attempts: 0, lastError: "" })
      ])
      yield* store.transaction("update", (db) => {
        updateOutboxAttempt(db, keys[0]!, 3, "502")
        removeOutbox(db, keys[1]!)
      })
      const loaded = yield* store.read("load", loadOutbox)
      assert.deepStrictEqual(loaded.entries.map((e) => [e.target, e.message, e.since, e.attempts, e.lastError]), [
        ["tg:1", { kind: "reply", text: "one", requestId: "r1" }, 5, 3, "502"],
        ["tg:1", { kind: "error", text: "three" }, 7, 0, ""]
      ])
    }))
})

describe("the write-ahead outbox", () => {
  it.effect("while the channel is sending, the reply is stored and its request is not; once it confirmed, neither", () =>
    Effect.gen(function*() {
      const { store, router, scope } = yield* life({ path: ":memory:", durability: "process" })
      const onTheWire = yield* Deferred.make<void>()
      const confirm = yield* Deferred.make<void>()
      yield* router.register({
        channel: "tg",
        send: () => Deferred.succeed(onTheWire, undefined).pipe(Effect.andThen(Deferred.await(confirm)))
      }).pipe(Scope.provide(scope))
      yield* queued(store, "r1")
      const delivering = yield* Effect.forkChild(router.deliver("tg:1", { kind: "reply", text: "answer", requestId: "r1" }, { settles: "r1" }))
      yield* Deferred.await(onTheWire)
      assert.deepStrictEqual(yield* rows(store), { queue: [], outbox: ["tg:1: answer"] })
      yield* Deferred.succeed(confirm, undefined)
      assert.strictEqual(yield* Fiber.join(delivering), "delivered")
      assert.deepStrictEqual(yield* rows(store), { queue: [], outbox: [] })
    }))

  it.effect("when the reply cannot be committed, the request stays queued (both or neither)", () =>
    Effect.gen(function*() {
      const { store, router, scope } = yield* life({ path: ":memory:", durability: "process" })
      yield* router.register({ channel: "tg", send: () => Effect.void }).pipe(Scope.provide(scope))
      yield* queued(store, "r1")
      // The outbox insert fails inside the transaction: the removal of the request is rolled back.
      yield* store.transaction("break", (db) => db.run("CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
      const exit = yield* router.deliver("tg:1", { kind: "reply", text: "answer" }, { settles: "r1" }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual((yield* rows(store)).queue, ["r1"])
      const stats = yield* store.stats
      assert.isTrue(stats.failing)
      assert.include(stats.lastError?.message ?? "", "disk full")
    }))

  it.effect("a crash while the channel was sending: the next start sends the reply", () =>
    Effect.gen(function*() {
      const path = join(yield* tempStateDir, "switchboard.db")
      const first = yield* life({ path, durability: "process" })
      const onTheWire = yield* Deferred.make<void>()
      yield* first.router.register({ channel: "tg", send: () => Deferred.succeed(onTheWire, undefined).pipe(Effect.andThen(Effect.never)) })
        .pipe(Scope.provide(first.scope))
      yield* queued(first.store, "r1")
      yield* Effect.forkChild(first.router.deliver("tg:1", { kind: "reply", text: "answer", requestId: "r1" }, { settles: "r1" }))
      yield* Deferred.await(onTheWire)
      // The process dies here: nothing of the first life runs again. The second opens the same file.
      const second = yield* life({ path, durability: "process" })
      const sent = yield* Ref.make<ReadonlyArray<string>>([])
      yield* second.router.register({ channel: "tg", send: (target, m) => Ref.update(sent, (s) => [...s, `${target}: ${m.text}`]) })
        .pipe(Scope.provide(second.scope))
      yield* TestClock.adjust("1 second")
      yield* until(Effect.map(Ref.get(sent), (s) => s.length > 0), "the stored reply was sent")
      assert.deepStrictEqual(yield* Ref.get(sent), ["tg:1: answer"])
      assert.deepStrictEqual(yield* rows(second.store), { queue: [], outbox: [] })
    }))

  it.effect("a permanent refusal forgets the stored message; a temporary one keeps it with its attempt", () =>
    Effect.gen(function*() {
      const { store, router, scope } = yield* life({ path: ":memory:", durability: "process" })
      yield* router.register({
        channel: "tg",
        send: (target) => Effect.fail(new DeliveryFailed({ target, reason: target === "tg:1" ? "blocked" : "502", permanent: target === "tg:1" }))
      }).pipe(Scope.provide(scope))
      yield* router.deliver("tg:1", { kind: "notify", text: "refused" }, { explicit: true }).pipe(Effect.ignore)
      assert.strictEqual(yield* router.deliver("tg:2", { kind: "notify", text: "later" }, { explicit: true }), "queued")
      const loaded = yield* store.read("load", loadOutbox)
      assert.deepStrictEqual(loaded.entries.map((e) => [e.target, e.lastError]), [["tg:2", "502"]])
    }))

  it.effect("a question is not stored: nobody waits for its answer after a restart", () =>
    Effect.gen(function*() {
      const { store, router, scope } = yield* life({ path: ":memory:", durability: "process" })
      yield* router.register({ channel: "tg", send: (target) => Effect.fail(new DeliveryFailed({ target, reason: "502", permanent: false })) })
        .pipe(Scope.provide(scope))
      yield* router.deliver("tg:1", { kind: "ask", text: "which?", question: { id: "q1", options: ["a", "b"] } })
      assert.strictEqual((yield* router.stats).outbox.waiting, 1)
      assert.deepStrictEqual((yield* rows(store)).outbox, [])
    }))
})
