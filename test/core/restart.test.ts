// Nothing accepted is lost across a stop or a crash: every request is in the store from the moment
// it is accepted until its reply is committed, so the next start on the same state dir answers it.
// A crash is a second life started while the first never stopped (its store file is never closed).
// The daemon's own services, TestClock for the grace.
import { existsSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, Scope } from "effect"
import { DeliveryFailed } from "../../src/domain/errors.ts"
import { TestClock } from "effect/testing"
import type { Inbox } from "../../src/channels/http/Inbox.ts"
import { parseSpill } from "../../src/core/legacyFiles.ts"
import { daemonLife, scriptedSession, tempStateDir } from "../support/harness.ts"

const texts = (inbox: Inbox["Service"], source: string) =>
  Effect.map(inbox.read(source, 0, 0), (page) => page.messages.map((m) => [m.kind, m.text]))

/** A first life whose first turn ("long job") never ends, with three more messages behind it. */
const busyFirstLife = (dir: string) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const stuck = yield* scriptedSession((request) =>
      request.text === "long job"
        ? Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))
        : Effect.succeed(`first life: ${request.text}`)
    )
    const first = yield* daemonLife(stuck.layer, dir)
    yield* first.intake.submit({ id: "a", source: "http:a", text: "long job" })
    yield* Deferred.await(started)
    yield* first.intake.submit({ id: "b1", source: "http:b", text: "one" })
    yield* first.intake.submit({ id: "c", source: "cli:local", text: "from the cli" })
    yield* first.intake.submit({ id: "b2", source: "http:b", text: "two" })
    return first
  })

/** The second life answers everything the first accepted, the cut-off turn first (it runs again). */
const assertAllAnswered = (dir: string) =>
  Effect.gen(function*() {
    const fresh = yield* scriptedSession((request) => Effect.succeed(`second life: ${request.text}`))
    const second = yield* daemonLife(fresh.layer, dir)
    for (const id of ["a", "b1", "c", "b2"]) {
      const record = yield* second.requests.await(id, 60_000)
      assert.strictEqual(record?.status, "done", `request ${id}`)
    }
    assert.deepStrictEqual(yield* texts(second.inbox, "http:a"), [["reply", "second life: long job"]])
    assert.deepStrictEqual(yield* texts(second.inbox, "http:b"), [["reply", "second life: one"], ["reply", "second life: two"]])
    assert.deepStrictEqual(yield* texts(second.inbox, "cli:local"), [["reply", "second life: from the cli"]])
    assert.deepStrictEqual((yield* Ref.get(fresh.probe.prompts)).map((r) => r.id), ["a", "b1", "c", "b2"])
    yield* Scope.close(second.scope, Exit.void)
    // A third life has nothing left to answer.
    const third = yield* scriptedSession((request) => Effect.succeed(`third life: ${request.text}`))
    const last = yield* daemonLife(third.layer, dir)
    yield* TestClock.adjust("1 second")
    assert.deepStrictEqual(yield* Ref.get(third.probe.prompts), [])
    yield* Scope.close(last.scope, Exit.void)
  })

describe("requests kept across a restart", () => {
  it.effect("a stop: the queued messages and the turn cut off by the stop are answered by the next start, in order", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const first = yield* busyFirstLife(dir)
      const stopping = yield* Effect.forkChild(Scope.close(first.scope, Exit.void))
      yield* TestClock.adjust("11 seconds") // past the shutdown grace: the long turn is interrupted
      yield* Fiber.join(stopping)
      // Nothing is said at the stop: the sender gets the reply of the next run.
      assert.deepStrictEqual(yield* texts(first.inbox, "http:a"), [])
      assert.deepStrictEqual(yield* texts(first.inbox, "http:b"), [])
      assert.isFalse(existsSync(join(dir, "pending.jsonl")), "the queue is in the store, not in a file")
      yield* assertAllAnswered(dir)
    }))

  it.effect("a crash (the first life never stops): the next start answers the same", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const first = yield* busyFirstLife(dir)
      yield* assertAllAnswered(dir)
      // The first life is only cleaned up now; whatever it does at its end changes nothing above.
      yield* Scope.close(first.scope, Exit.void).pipe(Effect.forkChild)
    }))

  it.effect("a turn that finishes during the stop: the message the loop takes next is kept, not lost", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const session = yield* scriptedSession((request) =>
        request.text === "long job"
          ? Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)), Effect.as("finished"))
          : Effect.succeed(`answer to ${request.text}`)
      )
      const first = yield* daemonLife(session.layer, dir)
      yield* first.intake.submit({ id: "a", source: "http:a", text: "long job" })
      yield* Deferred.await(started)
      yield* first.intake.submit({ id: "b", source: "http:b", text: "next in line" })
      const stopping = yield* Effect.forkChild(Scope.close(first.scope, Exit.void))
      yield* TestClock.adjust("1 second")
      yield* Deferred.succeed(release, undefined) // within the grace: the loop takes "b" while stopping
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(yield* texts(first.inbox, "http:a"), [["reply", "finished"]])
      assert.deepStrictEqual((yield* Ref.get(session.probe.prompts)).map((r) => r.id), ["a"])

      const second = yield* daemonLife(session.layer, dir)
      assert.strictEqual((yield* second.requests.await("b", 60_000))?.status, "done")
      assert.deepStrictEqual(yield* texts(second.inbox, "http:b"), [["reply", "answer to next in line"]])
      assert.deepStrictEqual((yield* Ref.get(session.probe.prompts)).map((r) => r.id), ["a", "b"])
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.effect("a request answered before a restart is still found with its reply after it (GET /v1/messages/:id)", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const first = yield* daemonLife(echo.layer, dir)
      yield* first.intake.submit({ id: "answered", source: "http:a", text: "hi" })
      yield* first.requests.await("answered", 60_000)
      yield* Scope.close(first.scope, Exit.void)
      const second = yield* daemonLife(echo.layer, dir)
      const found = yield* second.requests.await("answered", 1000)
      assert.deepStrictEqual([found?.status, found?.reply, found?.source], ["done", "got hi", "http:a"])
      assert.isUndefined(yield* second.requests.get("never-sent"))
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.effect("an id answered before a restart is still a duplicate after it", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const first = yield* daemonLife(echo.layer, dir)
      yield* first.intake.submit({ id: "once", source: "http:a", text: "hi" })
      yield* first.requests.await("once", 60_000)
      yield* Scope.close(first.scope, Exit.void)
      const second = yield* daemonLife(echo.layer, dir)
      const again = yield* second.intake.submit({ id: "once", source: "http:a", text: "hi" })
      assert.strictEqual(again._tag, "Duplicate")
      assert.deepStrictEqual((yield* Ref.get(echo.probe.prompts)).map((r) => r.id), ["once"])
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.effect("a pending.jsonl of an older version is queued once: good entries are answered, bad ones reported, the file removed", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const good = { id: "ok", source: "http:a", text: "still here", priority: "human", receivedAt: 1 }
      writeFileSync(
        join(dir, "pending.jsonl"),
        [JSON.stringify(good), "{\"id\":\"torn\",\"sou", JSON.stringify({ ...good, id: "bad", source: "no colon" })].join("\n")
      )
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const life = yield* daemonLife(echo.layer, dir)
      assert.strictEqual((yield* life.requests.await("ok", 60_000))?.status, "done")
      assert.deepStrictEqual((yield* Ref.get(echo.probe.prompts)).map((r) => r.id), ["ok"])
      assert.isFalse(existsSync(join(dir, "pending.jsonl")))
      yield* Scope.close(life.scope, Exit.void)
    }))

  it.effect("an outbox.jsonl of an older version is sent once by the first start, then removed", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const line = (text: string) =>
        JSON.stringify({ target: "tg:1", message: { kind: "notify", text }, since: 0, attempts: 2, lastError: "502" })
      writeFileSync(join(dir, "outbox.jsonl"), [line("kept from the old version"), "{\"torn"].join("\n"))
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const delivered = yield* Ref.make<ReadonlyArray<string>>([])
      const tg = { channel: "tg", send: (target: string, m: { text: string }) => Ref.update(delivered, (d) => [...d, `${target}: ${m.text}`]) }
      const first = yield* daemonLife(echo.layer, dir)
      assert.isFalse(existsSync(join(dir, "outbox.jsonl")))
      yield* first.router.register(tg).pipe(Scope.provide(first.scope))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Ref.get(delivered), ["tg:1: kept from the old version"])
      yield* Scope.close(first.scope, Exit.void)
      const second = yield* daemonLife(echo.layer, dir)
      yield* second.router.register(tg).pipe(Scope.provide(second.scope))
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Ref.get(delivered), ["tg:1: kept from the old version"], "sent twice")
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.effect("a reply its channel could not take before the stop is delivered after the restart", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const first = yield* daemonLife(echo.layer, dir)
      const down = new DeliveryFailed({ target: "tg:1", reason: "502 Bad Gateway", permanent: false })
      yield* first.router.register({ channel: "tg", send: () => Effect.fail(down) }).pipe(Scope.provide(first.scope))
      const delivering = yield* Effect.forkChild(first.router.deliver("tg:1", { kind: "notify", text: "your build finished" }))
      yield* TestClock.adjust("10 seconds") // the Router's retries are spent: kept in the outbox
      yield* Fiber.join(delivering)
      assert.strictEqual((yield* first.router.stats).outbox.waiting, 1)
      yield* Scope.close(first.scope, Exit.void)
      assert.isFalse(existsSync(join(dir, "outbox.jsonl")), "the outbox is in the store, not in a file")

      const second = yield* daemonLife(echo.layer, dir)
      const delivered = yield* Ref.make<ReadonlyArray<string>>([])
      yield* second.router.register({
        channel: "tg",
        send: (target, m) => Ref.update(delivered, (d) => [...d, `${target}: ${m.text}`])
      }).pipe(Scope.provide(second.scope))
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* Ref.get(delivered), ["tg:1: your build finished"])
      assert.isFalse(existsSync(join(dir, "outbox.jsonl")))
      yield* Scope.close(second.scope, Exit.void)
    }))

  it("parses a kept queue line by line, with a reason for each line that does not decode", () => {
    const line = JSON.stringify({ id: "x", source: "telegram:1", text: "t", priority: "event", receivedAt: 5 })
    const parsed = parseSpill(`${line}\n\nnot json\n${JSON.stringify({ id: "", source: "http:a" })}\n`)
    assert.deepStrictEqual(parsed.requests.map((r) => r.id), ["x"])
    assert.deepStrictEqual(parsed.rejected.map((r) => r.line), [3, 4])
    for (const r of parsed.rejected) assert.isAbove(r.reason.length, 0)
  })
})
