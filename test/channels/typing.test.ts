// Typing indicators follow the turn events: each turn of the channel's chats has its own, from the
// turn's start until it finishes — also when turns of several sessions run at once.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { typingDuringTurns } from "../../src/channels/typing.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { Dispatcher } from "../../src/core/Dispatcher.ts"
import { TurnEvents } from "../../src/core/TurnEvents.ts"

/** No turn is running when the indicator starts (only `active` is read). */
const idleDispatcher = Layer.succeed(Dispatcher, { active: Effect.succeed(undefined) } as unknown as Dispatcher["Service"])

const started = (requestId: string, source: string) =>
  ({ _tag: "TurnStarted", requestId, source, priority: "human", at: 0 }) as const
const finished = (requestId: string, source: string) =>
  ({ _tag: "TurnFinished", requestId, source, priority: "human", outcome: "Replied", at: 0, durationMs: 0 }) as const

describe("typing indicators", () => {
  it.effect("two chats' turns at once: each chat types from its turn's start until that turn finishes", () =>
    Effect.gen(function*() {
      const sent: Array<[string, number]> = []
      yield* typingDuringTurns({
        channel: "telegram",
        renew: "4 seconds",
        send: (source) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => void sent.push([source, now])))
      })
      const events = yield* TurnEvents
      const settle = Effect.forEach(Array.from({ length: 20 }), () => Effect.yieldNow, { discard: true })
      yield* events.publish(started("a", "telegram:111"))
      yield* events.publish(started("x", "http:alice"))
      yield* TestClock.adjust("1 second")
      yield* events.publish(started("b", "telegram:222"))
      yield* settle
      yield* TestClock.adjust("4 seconds")
      yield* events.publish(finished("a", "telegram:111"))
      yield* events.publish(finished("x", "http:alice"))
      yield* settle
      yield* TestClock.adjust("8 seconds")
      yield* events.publish(finished("b", "telegram:222"))
      yield* settle
      yield* TestClock.adjust("20 seconds")
      assert.deepStrictEqual(sent.filter(([s]) => s === "telegram:111").map(([, at]) => at), [0, 4000])
      assert.deepStrictEqual(sent.filter(([s]) => s === "telegram:222").map(([, at]) => at), [1000, 5000, 9000, 13_000])
      assert.deepStrictEqual(sent.filter(([s]) => !s.startsWith("telegram:")), [])
    }).pipe(Effect.provide(Layer.mergeAll(TurnEvents.layer, idleDispatcher, GatewayConfig.test()))))
})
