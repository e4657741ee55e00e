// The turn lifecycle as events: the Dispatcher says when each turn starts and finishes, with the
// request's own source and id, in order; a subscriber sees every turn of every source.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, PubSub } from "effect"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { TurnEvents } from "../../src/core/TurnEvents.ts"
import { TurnFailed } from "../../src/domain/errors.ts"
import { gateway, scriptedSession } from "../support/harness.ts"

describe("turn events", () => {
  it.effect("each turn publishes started then finished, with its source, request id and outcome", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { layer } = yield* scriptedSession((request) =>
        request.text === "slow"
          ? Effect.as(Deferred.await(gate), "slow done")
          : request.text === "bad"
          ? Effect.fail(new TurnFailed({ reason: "model", userMessage: "no" }))
          : Effect.succeed(`echo ${request.text}`)
      )
      yield* Effect.gen(function*() {
        const subscription = yield* (yield* TurnEvents).subscribe
        const intake = yield* Intake
        yield* intake.submit({ id: "t1", source: "telegram:111", text: "slow" })
        const started = yield* PubSub.take(subscription)
        assert.deepInclude(started, { _tag: "TurnStarted", requestId: "t1", source: "telegram:111" })
        // A message from elsewhere waits; its turn starts only after the first one finished.
        yield* intake.submit({ id: "h1", source: "http:alice", text: "bad" })
        for (let i = 0; i < 50; i++) yield* Effect.yieldNow
        assert.strictEqual(yield* PubSub.remaining(subscription), 0, "a second turn started while the first ran")
        yield* Deferred.succeed(gate, undefined)
        yield* RequestLog.use((log) => log.await("h1", 60_000))
        const rest = yield* PubSub.takeAll(subscription)
        assert.deepStrictEqual(
          rest.map((e) => [e._tag, e.requestId, e.source, e._tag === "TurnFinished" ? e.outcome : ""]),
          [
            ["TurnFinished", "t1", "telegram:111", "Replied"],
            ["TurnStarted", "h1", "http:alice", ""],
            ["TurnFinished", "h1", "http:alice", "Failed"]
          ]
        )
      }).pipe(Effect.provide(gateway(layer)))
    }))
})
