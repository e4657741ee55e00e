// Inbox: per-source, ordered, long-polled, and bounded both per source and in sources.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { Inbox } from "../../../src/channels/http/Inbox.ts"
import { Intake } from "../../../src/core/Intake.ts"
import { RequestLog } from "../../../src/core/RequestLog.ts"
import { Session } from "../../../src/core/Session.ts"
import { gateway } from "../../support/harness.ts"

/** Wait (on whatever clock) until the request is done or failed. */
const settled = (id: string) => RequestLog.use((log) => log.await(id, 60_000))

describe("Inbox", () => {
  it.effect("a long poll returns as soon as a message arrives, and only newer messages after `next`", () =>
    Effect.gen(function*() {
      const inbox = yield* Inbox.make({ keepPerSource: 10, maxSources: 10 })
      yield* inbox.append("http:a", { kind: "reply", text: "one" })
      const first = yield* inbox.read("http:a", 0, 0)
      assert.deepStrictEqual(first.messages.map((m) => m.text), ["one"])
      const waiting = yield* Effect.forkChild(inbox.read("http:a", first.next, 30_000))
      yield* inbox.append("http:b", { kind: "reply", text: "for b" })
      yield* inbox.append("http:a", { kind: "notify", text: "two" })
      const page = yield* Fiber.join(waiting)
      assert.deepStrictEqual(page.messages.map((m) => [m.kind, m.text]), [["notify", "two"]])
    }))

  it.effect("a long poll with nothing new ends after its wait with no messages", () =>
    Effect.gen(function*() {
      const inbox = yield* Inbox.make({ keepPerSource: 10, maxSources: 10 })
      const waiting = yield* Effect.forkChild(inbox.read("http:a", 0, 5000))
      yield* TestClock.adjust("5 seconds")
      const page = yield* Fiber.join(waiting)
      assert.deepStrictEqual([page.messages, page.next], [[], 0])
    }))

  it.effect("a client holding the epoch of an earlier life of the inbox gets everything, not what is after its seq", () =>
    Effect.gen(function*() {
      const inbox = yield* Inbox.make({ keepPerSource: 10, maxSources: 1 })
      for (const text of ["one", "two", "three"]) yield* inbox.append("http:a", { kind: "reply", text })
      const seen = yield* inbox.read("http:a", 0, 0)
      assert.strictEqual(seen.next, 3)
      // The box is forgotten and made again (as after a daemon restart): seqs start at 1 again.
      yield* inbox.append("http:b", { kind: "reply", text: "evicts a" })
      yield* inbox.append("http:a", { kind: "reply", text: "new life" })
      const same = yield* inbox.read("http:a", seen.next, 0, seen.epoch)
      assert.deepStrictEqual(same.messages.map((m) => [m.seq, m.text]), [[1, "new life"]])
      assert.notStrictEqual(same.epoch, seen.epoch)
      // With the current epoch, `after` is honoured as usual.
      assert.deepStrictEqual((yield* inbox.read("http:a", same.next, 0, same.epoch)).messages, [])
    }))

  it.effect("keeps the newest messages per source and forgets the longest-quiet sources", () =>
    Effect.gen(function*() {
      const inbox = yield* Inbox.make({ keepPerSource: 3, maxSources: 2 })
      for (let i = 1; i <= 5; i++) yield* inbox.append("http:a", { kind: "reply", text: `a${i}` })
      assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages.map((m) => [m.seq, m.text]), [
        [3, "a3"],
        [4, "a4"],
        [5, "a5"]
      ])
      yield* inbox.append("http:b", { kind: "reply", text: "b1" })
      yield* inbox.append("http:a", { kind: "reply", text: "a6" }) // a is now the most recent
      yield* inbox.append("http:c", { kind: "reply", text: "c1" }) // evicts b, the longest quiet
      assert.deepStrictEqual((yield* inbox.read("http:b", 0, 0)).messages, [])
      assert.strictEqual((yield* inbox.read("http:a", 0, 0)).messages.at(-1)?.text, "a6")
      assert.strictEqual((yield* inbox.read("http:c", 0, 0)).messages[0]?.text, "c1")
    }))
})

describe("Inbox and pollers", () => {
  // Reading an inbox once created (and kept) a box for any source asked about, and only appends
  // evicted: many distinct pollers (a buggy client, a scanner) grew memory without bound, and the next
  // append evicted the longest-quiet boxes first — the real ones with unread messages.
  it.effect("polling many unknown inbox names does not make a user's unread reply disappear", () =>
    Effect.gen(function*() {
      const intake = yield* Intake
      const inbox = yield* Inbox
      yield* intake.submit({ id: "a1", source: "http:alice", text: "hi" })
      yield* settled("a1")
      for (let i = 0; i < 10_000; i++) yield* inbox.read(`http:poller-${i}`, 0, 0)
      yield* intake.submit({ id: "c1", source: "http:carol", text: "hello" })
      yield* settled("c1")
      const page = yield* inbox.read("http:alice", 0, 0)
      assert.deepStrictEqual(page.messages.map((m) => m.text), ["echo: hi"])
    }).pipe(Effect.provide(gateway(Session.echo))))
})
