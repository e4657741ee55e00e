// Graceful shutdown: nothing new is taken, the running turn may finish within the grace period,
// otherwise it is interrupted and its sender told.
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { TestClock } from "effect/testing"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
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
    return { scope, intake: Context.get(context, Intake), inbox: Context.get(context, Inbox) }
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

  it.effect("a turn still running after the grace period is interrupted and its sender told", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const { scope, intake, inbox } = yield* withGateway(release, started)
      yield* intake.submit({ id: "a", source: "http:a", text: "endless" })
      yield* Deferred.await(started)
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("11 seconds")
      yield* Fiber.join(closing)
      assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages.map((m) => [m.kind, m.text]), [
        ["error", "switchboard is restarting and could not finish this; please send it again."]
      ])
    }))
})
