import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { Inbound, Priority } from "../../src/domain/model.ts"
import { effectiveRank } from "../../src/domain/priority.ts"
import { CommandQueue, type QueueOptions } from "../../src/core/CommandQueue.ts"
import { Store } from "../../src/store/Store.ts"

/** A queue on a fresh in-memory store that lives as long as the test. */
const makeQueue = (o: QueueOptions) =>
  Effect.flatMap(Store.make({ path: ":memory:", durability: "process" }), (store) =>
    CommandQueue.make(o).pipe(Effect.provideService(Store, store)))

const options = { cap: 5, agingAfter: Duration.minutes(2), dedupeWindow: Duration.hours(1) }

const request = (id: string, priority: Priority = "human", source = "http:a"): Inbound => ({
  id,
  source,
  text: id,
  priority,
  receivedAt: 0
})

const takeIds = (queue: CommandQueue["Service"], n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.map(queue.take, (i) => i.request.id))

describe("priority policy", () => {
  it("promotes one level per aging period, never above human", () => {
    assert.strictEqual(effectiveRank("event", 0, 1000), 3)
    assert.strictEqual(effectiveRank("event", 1000, 1000), 2)
    assert.strictEqual(effectiveRank("event", 5000, 1000), 1)
    assert.strictEqual(effectiveRank("relay", 999, 1000), 2)
    assert.strictEqual(effectiveRank("command", 10_000, 1000), 0)
    assert.strictEqual(effectiveRank("human", 10_000, 1000), 1)
  })
})

describe("CommandQueue", () => {
  it.effect("remembers at most dedupeMax ids for dedupe: the oldest is forgotten first", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue({ ...options, cap: 10, dedupeMax: 3 })
      for (const id of ["a", "b", "c", "d"]) yield* queue.offer(request(id))
      yield* takeIds(queue, 4)
      assert.strictEqual((yield* queue.offer(request("d")))._tag, "Duplicate")
      assert.strictEqual((yield* queue.offer(request("a")))._tag, "Accepted", "the oldest id should be forgotten")
    }))

  it.effect("an item handed back (shutdown) is first in line again, ahead of later ones", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue({ ...options, cap: 10 })
      for (const id of ["h1", "h2", "h3"]) yield* queue.offer(request(id))
      const taken = yield* queue.take
      assert.strictEqual(taken.request.id, "h1")
      yield* queue.putBack(taken)
      assert.deepStrictEqual((yield* queue.pending).map((i) => i.request.id), ["h1", "h2", "h3"])
      assert.deepStrictEqual(yield* takeIds(queue, 3), ["h1", "h2", "h3"])
    }))

  it.effect("takes command > human > relay > event, FIFO within a priority", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue({ ...options, cap: 10 })
      for (const [id, p] of [["e1", "event"], ["h1", "human"], ["r1", "relay"], ["h2", "human"], ["c1", "command"], ["e2", "event"]] as const) {
        yield* queue.offer(request(id, p))
      }
      assert.deepStrictEqual((yield* queue.pending).map((i) => i.request.id), ["c1", "h1", "h2", "r1", "e1", "e2"])
      assert.deepStrictEqual(yield* takeIds(queue, 6), ["c1", "h1", "h2", "r1", "e1", "e2"])
    }))

  it.effect("an automation event that waited past the aging time overtakes newer human messages", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue({ ...options, cap: 10 })
      yield* queue.offer(request("old-event", "event"))
      yield* TestClock.adjust("1 minute")
      yield* queue.offer(request("h1", "human"))
      // After 1 minute the event is still behind the human message.
      assert.deepStrictEqual((yield* queue.pending).map((i) => i.request.id), ["h1", "old-event"])
      yield* TestClock.adjust("3 minutes") // event waited 4 min: two levels up → human level, and older
      yield* queue.offer(request("h2", "human"))
      assert.deepStrictEqual(yield* takeIds(queue, 3), ["old-event", "h1", "h2"])
    }))

  it.effect("aging never lets an event overtake a control command", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue({ ...options, cap: 10 })
      yield* queue.offer(request("old-event", "event"))
      yield* TestClock.adjust("1 hour")
      yield* queue.offer(request("stop", "command"))
      assert.deepStrictEqual(yield* takeIds(queue, 2), ["stop", "old-event"])
    }))

  it.effect("refuses clearly when full, and accepts again once there is room", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue(options)
      for (let i = 0; i < 5; i++) yield* queue.offer(request(`m${i}`))
      const refused = yield* queue.offer(request("m5")).pipe(Effect.flip)
      assert.strictEqual(refused._tag, "QueueFull")
      assert.match(refused.message, /queue is full \(5 waiting\)/)
      yield* queue.take
      const accepted = yield* queue.offer(request("m5"))
      assert.strictEqual(accepted._tag, "Accepted")
      const stats = yield* queue.stats
      assert.strictEqual(stats.refused, 1)
      assert.strictEqual(stats.depth, 5)
    }))

  it.effect("a repeated id is recognised as a duplicate within the window, and accepted after it", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue(options)
      assert.strictEqual((yield* queue.offer(request("tg:1")))._tag, "Accepted")
      yield* queue.take // even after it was answered
      yield* TestClock.adjust("59 minutes")
      assert.strictEqual((yield* queue.offer(request("tg:1")))._tag, "Duplicate")
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual((yield* queue.offer(request("tg:1")))._tag, "Accepted")
      assert.strictEqual((yield* queue.stats).duplicates, 1)
    }))

  it.effect("take waits while empty and wakes on the next offer; each item keeps its own source", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue(options)
      const taker = yield* Effect.forkChild(queue.take)
      yield* Effect.yieldNow
      assert.isUndefined(taker.pollUnsafe())
      yield* queue.offer(request("x", "human", "telegram:42"))
      const item = yield* Fiber.join(taker)
      assert.strictEqual(item.request.source, "telegram:42")
    }))
})
