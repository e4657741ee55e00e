// What clients can grow is bounded in bytes, not counts: the request log, each inbox and all of
// them, and pending system events drop their oldest at the budget (counted in
// switchboard_memory_dropped_total); stored replies are cut with a marker.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { memoryDropped } from "../../src/domain/metrics.ts"
import { byteSize, truncateStored } from "../../src/domain/truncate.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { Store } from "../../src/store/Store.ts"

const dropped = (store: string) =>
  Effect.map(Metric.value(Metric.withAttributes(memoryDropped, { store })), (v) => v.count)

const request = (id: string) => ({ id, source: "http:a", text: "q", priority: "human" as const, receivedAt: 0 })

describe("byte budgets", () => {
  it.effect("the request log forgets the oldest finished requests once their replies pass its bytes", () =>
    Effect.gen(function*() {
      const before = yield* dropped("request_log")
      const log = yield* RequestLog.make({ keep: 10_000, maxBytes: 1000, maxReplyBytes: 10_000 })
      for (let i = 1; i <= 10; i++) {
        yield* log.queued(request(`r${i}`))
        yield* log.done(`r${i}`, "x".repeat(200))
      }
      const kept = []
      for (let i = 1; i <= 10; i++) if ((yield* log.get(`r${i}`)) !== undefined) kept.push(i)
      assert.deepStrictEqual(kept, [6, 7, 8, 9, 10])
      assert.strictEqual((yield* dropped("request_log")) - before, 5)
    }))

  it.effect("a queued request is never forgotten for bytes: only finished ones are", () =>
    Effect.gen(function*() {
      const log = yield* RequestLog.make({ keep: 10_000, maxBytes: 100, maxReplyBytes: 10_000 })
      yield* log.queued(request("waiting"))
      yield* log.queued(request("big"))
      yield* log.done("big", "y".repeat(500))
      assert.strictEqual((yield* log.get("waiting"))?.status, "queued")
    }))

  it.effect("a stored reply longer than the limit is cut at the limit and says how much was left out", () =>
    Effect.gen(function*() {
      const log = yield* RequestLog.make({ keep: 10, maxBytes: 1_000_000, maxReplyBytes: 1000 })
      yield* log.queued(request("long"))
      yield* log.done("long", "z".repeat(5000))
      const reply = (yield* log.get("long"))!.reply!
      assert.isAtMost(byteSize(reply), 1000)
      assert.match(reply, /^z+\n… \[truncated: \d+ more bytes\]$/)
      const omitted = Number(/truncated: (\d+)/.exec(reply)![1])
      assert.strictEqual(reply.indexOf("\n") + omitted, 5000)
    }))

  it("truncation never splits a character and leaves short texts alone", () => {
    assert.strictEqual(truncateStored("short", 100), "short")
    const emoji = "😀".repeat(500)
    const cut = truncateStored(emoji, 301)
    assert.isAtMost(byteSize(cut), 301)
    assert.notInclude(cut, "\uFFFD")
    assert.match(cut, /^(😀)+\n… \[truncated: \d+ more bytes\]$/)
    const kept = cut.slice(0, cut.indexOf("\n"))
    assert.strictEqual(byteSize(kept) + Number(/truncated: (\d+)/.exec(cut)![1]), byteSize(emoji))
  })

  it.effect("an inbox drops its oldest messages at its bytes; all inboxes together forget the quietest", () =>
    Effect.gen(function*() {
      const before = yield* dropped("inbox")
      const inbox = yield* Inbox.make({ keepPerSource: 1000, maxSources: 1000, bytesPerSource: 1000, totalBytes: 2500, maxTextBytes: 10_000 })
      for (let i = 1; i <= 5; i++) yield* inbox.append("http:a", { kind: "reply", text: `${i}`.repeat(300) })
      assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages.map((m) => m.seq), [3, 4, 5])
      yield* inbox.append("http:b", { kind: "reply", text: "b".repeat(900) })
      yield* inbox.append("http:c", { kind: "reply", text: "c".repeat(900) })
      // a (900) + b (900) + c (900) is over 2,500: a, the quietest, is forgotten.
      assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages, [])
      assert.strictEqual((yield* inbox.read("http:c", 0, 0)).messages.length, 1)
      assert.strictEqual((yield* dropped("inbox")) - before, 2 + 3)
    }))

  it.effect("a message larger than the inbox's budget is still delivered, cut to the stored-reply limit", () =>
    Effect.gen(function*() {
      const inbox = yield* Inbox.make({ keepPerSource: 10, maxSources: 10, bytesPerSource: 500, totalBytes: 10_000, maxTextBytes: 400 })
      yield* inbox.append("http:a", { kind: "reply", text: "w".repeat(2000) })
      const [only] = (yield* inbox.read("http:a", 0, 0)).messages
      assert.include(only!.text, "[truncated: ")
      assert.isAtMost(byteSize(only!.text), 400)
    }))

  it.effect("pending system events of all keys drop the oldest (of any key) beyond their bytes, counted per key", () =>
    Effect.gen(function*() {
      const before = yield* dropped("system_events")
      const store = yield* Store.make({ path: ":memory:", durability: "process" })
      const se = yield* SystemEvents.make({ perKey: 20, maxBytes: 1000 }).pipe(Effect.provideService(Store, store))
      yield* se.enqueue("http:a", "a1 ".repeat(100))
      yield* se.enqueue("http:b", "b1 ".repeat(100))
      yield* se.enqueue("http:a", "a2 ".repeat(100))
      yield* se.enqueue("http:b", "b2 ".repeat(100))
      const stats = yield* se.stats
      assert.deepStrictEqual(stats.pending, { "http:a": 1, "http:b": 2 })
      assert.deepStrictEqual(stats.droppedByKey, { "http:a": 1 })
      assert.strictEqual((yield* se.peek("http:a"))[0]!.text.slice(0, 2), "a2")
      assert.strictEqual((yield* dropped("system_events")) - before, 1)
      // Relayed events give their bytes back: three more fit again without a drop.
      yield* se.drain("http:b")
      yield* se.enqueue("http:c", "c1 ".repeat(100))
      yield* se.enqueue("http:c", "c2 ".repeat(100))
      assert.strictEqual((yield* se.stats).dropped, 1)
    }))
})
