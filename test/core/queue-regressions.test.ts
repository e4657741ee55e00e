// Regressions the suite once let through (issue 13, items 14 and 17): a cap counted per priority
// lane (the queue then holds 4 × the cap), and `pending` — what survives a stop or a crash — not in
// the order `take` serves, aging included.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import type { Inbound, Priority } from "../../src/domain/model.ts"
import { CommandQueue, type QueueOptions } from "../../src/core/CommandQueue.ts"
import { Store } from "../../src/store/Store.ts"

const makeQueue = (o: QueueOptions) =>
  Effect.flatMap(Store.make({ path: ":memory:", durability: "process" }), (store) =>
    CommandQueue.make(o).pipe(Effect.provideService(Store, store)))

const request = (id: string, priority: Priority, receivedAt = 0): Inbound => ({ id, source: "http:a", text: id, priority, receivedAt })

describe("CommandQueue regressions", () => {
  it.effect("the cap counts every priority together: one of each fills a cap of 4, the fifth is refused whatever its priority", () =>
    Effect.gen(function*() {
      const queue = yield* makeQueue({ cap: 4, agingAfter: Duration.minutes(2), dedupeWindow: Duration.hours(1) })
      for (const p of ["command", "human", "relay", "event"] as const) {
        assert.strictEqual((yield* queue.offer(request(`one-${p}`, p)))._tag, "Accepted")
      }
      for (const p of ["command", "human", "relay", "event"] as const) {
        const refused = yield* Effect.flip(queue.offer(request(`two-${p}`, p)))
        assert.strictEqual(refused._tag, "QueueFull", `a second ${p} was let in past the cap`)
      }
      assert.strictEqual((yield* queue.stats).depth, 4)
    }))

  it.effect("pending lists the items in the order take serves them, after aging promoted the old ones", () =>
    Effect.gen(function*() {
      const agingAfter = Duration.minutes(2)
      const queue = yield* makeQueue({ cap: 100, agingAfter, dedupeWindow: Duration.hours(1) })
      // Old automation and relays, then (five minutes later) people and a command.
      yield* queue.offer(request("event-old", "event"))
      yield* queue.offer(request("relay-old", "relay"))
      yield* TestClock.adjust("5 minutes")
      const now = Duration.toMillis(Duration.minutes(5))
      yield* queue.offer(request("human-new", "human", now))
      yield* queue.offer(request("event-new", "event", now))
      yield* queue.offer(request("command-new", "command", now))
      yield* queue.offer(request("relay-new", "relay", now))
      const pending = (yield* queue.pending).map((i) => i.request.id)
      const taken: Array<string> = []
      for (let i = 0; i < pending.length; i++) taken.push((yield* queue.take).request.id)
      assert.deepStrictEqual(pending, taken)
      // And aging did matter: the old event (promoted twice) is served before the new relay.
      assert.isBelow(taken.indexOf("event-old"), taken.indexOf("relay-new"))
      assert.strictEqual(taken[0], "command-new")
    }))
})
