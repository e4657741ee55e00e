// Replies in flight at a graceful stop: one waiting out a retry-after is in the store's outbox and
// delivered after the restart, one on the wire is not sent twice, and our own answers (/status,
// "Got it.") are kept like replies. The daemon's own services on the TestClock. Each case once failed; its comment says
// how.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import { DeliveryFailed } from "../../src/domain/errors.ts"
import type { Outbound } from "../../src/domain/model.ts"
import { daemonLife, scriptedSession, tempStateDir, until } from "../support/harness.ts"

/** A channel ("tg") whose sends are recorded; `behaviour` decides each send. */
const recordingChannel = (
  behaviour: (n: number, target: string, m: Outbound) => Effect.Effect<void, DeliveryFailed>,
  /** Sends are uninterruptible: a request on the wire is delivered whether or not its response is awaited. */
  wire = false
) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make(0)
    const delivered = yield* Ref.make<ReadonlyArray<string>>([])
    const sender = {
      channel: "tg",
      send: (target: string, m: Outbound) =>
        Effect.gen(function*() {
          const n = yield* Ref.updateAndGet(attempts, (a) => a + 1)
          yield* behaviour(n, target, m)
          yield* Ref.update(delivered, (d) => [...d, `${target}: ${m.text}`])
        }).pipe(wire ? Effect.uninterruptible : (e) => e)
    }
    return { sender, attempts, delivered }
  })

describe("replies in flight at a stop", () => {
  // The turn has finished and the Router is waiting out the channel's retry-after (a Telegram 429 with
  // retry_after 30, or a send hanging up to its timeout) when SIGTERM comes. The stop once waited 5 s
  // for the item being handled, then interrupted the loop in the middle of the delivery: the reply was
  // neither in the outbox nor in the queue, and the user never got the answer, not even after the
  // restart.
  it.effect("a finished turn whose reply is waiting out a retry-after at the stop is delivered after the restart", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const session = yield* scriptedSession((request) => Effect.succeed(`answer to ${request.text}`))
      const first = yield* daemonLife(session.layer, dir)
      const channels1 = yield* Scope.make()
      const limited = yield* recordingChannel((n, target) =>
        n === 1
          ? Effect.fail(new DeliveryFailed({ target, reason: "429 Too Many Requests", retryAfterMs: 30_000, permanent: false }))
          : Effect.void
      )
      yield* first.router.register(limited.sender).pipe(Scope.provide(channels1))
      yield* first.intake.submit({ id: "a", source: "tg:1", text: "deploy status?" })
      yield* until(Effect.map(Ref.get(limited.attempts), (n) => n === 1), "the reply was tried once")

      const stopping = yield* Effect.forkChild(Scope.close(first.scope, Exit.void))
      yield* TestClock.adjust("6 seconds") // drain gives the answered item 5 s, then interrupts the loop
      yield* Fiber.join(stopping)
      yield* Scope.close(channels1, Exit.void)
      assert.deepStrictEqual(yield* Ref.get(limited.delivered), [], "delivered before the stop after all")

      // Second life: the channel works again.
      const second = yield* daemonLife(session.layer, dir)
      const channels2 = yield* Scope.make()
      const ok = yield* recordingChannel(() => Effect.void)
      yield* second.router.register(ok.sender).pipe(Scope.provide(channels2))
      yield* TestClock.adjust("1 minute")
      const seen = [...(yield* Ref.get(limited.delivered)), ...(yield* Ref.get(ok.delivered))]
      assert.deepStrictEqual(seen, ["tg:1: answer to deploy status?"], "the answer never reached the chat")
      yield* Scope.close(second.scope, Exit.void)
      yield* Scope.close(channels2, Exit.void)
    }))

  // The outbox was once saved while its fiber was still sending: a message on the wire at the stop
  // (the channel just came back, the backlog is being flushed) was written to outbox.jsonl AND
  // delivered, and the next start sent it again. The send is modelled as uninterruptible: a request
  // that reached the channel is delivered whether or not its response is awaited.
  it.effect("a kept message being re-sent when the stop comes is not sent a second time after the restart", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const session = yield* scriptedSession((request) => Effect.succeed(`answer to ${request.text}`))
      const first = yield* daemonLife(session.layer, dir)
      const channels1 = yield* Scope.make()
      const onTheWire = yield* Deferred.make<void>()
      const answered = yield* Deferred.make<void>()
      const flaky = yield* recordingChannel((n, target) =>
        n <= 4
          ? Effect.fail(new DeliveryFailed({ target, reason: "502 Bad Gateway", permanent: false })) // the outage
          : Deferred.succeed(onTheWire, undefined).pipe(Effect.andThen(Deferred.await(answered))),
        true
      )
      yield* first.router.register(flaky.sender).pipe(Scope.provide(channels1))
      const delivering = yield* Effect.forkChild(first.router.deliver("tg:1", { kind: "notify", text: "build finished" }))
      yield* TestClock.adjust("10 seconds") // the Router's 4 attempts fail: kept in the outbox
      yield* Fiber.join(delivering)
      assert.strictEqual((yield* first.router.stats).outbox.waiting, 1)
      yield* TestClock.adjust("5 seconds") // the outbox round: Telegram is back, the send is on the wire
      yield* Deferred.await(onTheWire)

      const stopping = yield* Effect.forkChild(Scope.close(first.scope, Exit.void))
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow // the stop is under way
      yield* Deferred.succeed(answered, undefined) // Telegram answers 200: delivered
      yield* Fiber.join(stopping)
      yield* Scope.close(channels1, Exit.void)
      assert.deepStrictEqual(yield* Ref.get(flaky.delivered), ["tg:1: build finished"])

      const second = yield* daemonLife(session.layer, dir)
      const channels2 = yield* Scope.make()
      const ok = yield* recordingChannel(() => Effect.void)
      yield* second.router.register(ok.sender).pipe(Scope.provide(channels2))
      yield* TestClock.adjust("1 minute")
      assert.deepStrictEqual(
        [...(yield* Ref.get(flaky.delivered)), ...(yield* Ref.get(ok.delivered))],
        ["tg:1: build finished"],
        "the chat got the message twice"
      )
      yield* Scope.close(second.scope, Exit.void)
      yield* Scope.close(channels2, Exit.void)
    }))

  // Our own answers ("Got it.", /status, "Nothing is running") go out in the background. The outbox
  // was once saved while that fiber was still waiting out a retry_after; the fiber was interrupted only
  // later, and its "keep it, not lose it" put the message into an outbox already written: the answer
  // was lost.
  it.effect("an answer still waiting out a retry_after at a stop is kept for the next start", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const first = yield* daemonLife(echo.layer, dir)
      const slow = new DeliveryFailed({ target: "tg:1", reason: "429 Too Many Requests", permanent: false, retryAfterMs: 30_000 })
      yield* first.router.register({ channel: "tg", send: () => Effect.fail(slow) }).pipe(Scope.provide(first.scope))
      const result = yield* first.intake.submit({ id: "s1", source: "tg:1", text: "/status" })
      assert.strictEqual(result._tag, "Answered")
      yield* TestClock.adjust("1 second") // the background delivery is now waiting out the retry_after
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* daemonLife(echo.layer, dir)
      const channels2 = yield* Scope.make()
      const ok = yield* recordingChannel(() => Effect.void)
      yield* second.router.register(ok.sender).pipe(Scope.provide(channels2))
      yield* TestClock.adjust("1 minute")
      const delivered = yield* Ref.get(ok.delivered)
      assert.strictEqual(delivered.length, 1, "the /status answer was neither delivered nor kept: lost at the stop")
      assert.match(delivered[0]!, /^tg:1: /)
      yield* Scope.close(second.scope, Exit.void)
      yield* Scope.close(channels2, Exit.void)
    }))
})
