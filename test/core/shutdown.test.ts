// Graceful shutdown: nothing new is taken, the running turn may finish within the grace period,
// otherwise it is interrupted and stays in the store for the next start (test/core/restart.test.ts).
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { gateway, scriptedSession } from "../support/harness.ts"

const withGateway = (release: Deferred.Deferred<void>, started: Deferred.Deferred<void>) =>
  Effect.gen(function*() {
    const { layer } = yield* scriptedSession((request) =>
      Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Deferred.await(release)),
        Effect.as(`finished ${request.text}`)
      )
    )
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(gateway(layer), scope)
    return {
      scope,
      intake: Context.get(context, Intake),
      inbox: Context.get(context, Inbox),
      requests: Context.get(context, RequestLog)
    }
  })

describe("graceful shutdown", () => {
  it.effect("a turn that finishes within the grace period is answered", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { scope, intake, inbox } = yield* withGateway(release, started)
      yield* intake.submit({ id: "a", source: "http:a", text: "job" })
      yield* intake.submit({ id: "b", source: "http:b", text: "queued behind" })
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("3 seconds")
      const late = yield* intake.submit({ id: "c", source: "http:c", text: "too late" }).pipe(Effect.flip)
      assert.strictEqual(late._tag, "ShuttingDown")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(closing)
      assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages.map((m) => m.text), ["finished job"])
      // Nothing new was started after the stop began.
      assert.deepStrictEqual((yield* inbox.read("http:b", 0, 0)).messages, [])
    }))

  it.effect("a turn still running after the grace period is interrupted; nothing is said, it runs again at the next start", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { scope, intake, inbox, requests } = yield* withGateway(release, started)
      yield* intake.submit({ id: "a", source: "http:a", text: "endless" })
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("11 seconds")
      yield* Fiber.join(closing)
      // No "please send it again": the request is still in the store, and the next start answers it.
      assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages, [])
      assert.deepStrictEqual(yield* requests.get("a").pipe(Effect.map((r) => [r?.status, r?.error])), [
        "failed",
        "switchboard stopped during this turn; it runs again at the next start"
      ])
    }))
})
