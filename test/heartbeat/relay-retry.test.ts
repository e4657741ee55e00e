// A relay of system events that fails (model down, timeout) is retried for its own session key:
// the person learns their job finished without needing another event.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { Session } from "../../src/core/Session.ts"
import { TurnFailed } from "../../src/domain/errors.ts"
import type { Inbound } from "../../src/domain/model.ts"
import { HeartbeatRunner } from "../../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../src/heartbeat/HeartbeatWake.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { core } from "../../src/layers/Core.ts"
import { until } from "../support/harness.ts"
import { Store } from "../../src/store/Store.ts"

describe("relay retries", () => {
  /** The daemon's heartbeat graph on the TestClock with a session answering `reply`. */
  const heartbeatGraph = (reply: (r: Inbound) => Effect.Effect<string, TurnFailed>, every: Duration.Duration) => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
    const session = Layer.succeed(
      Session,
      Session.of({
        prompt: (request) => Effect.map(reply(request), (text) => ({ text })),
        reset: Effect.void,
        info: Effect.succeed({ provider: "test", model: "test" })
      })
    )
    const layer = HeartbeatRunner.layer.pipe(
      Layer.provideMerge(core(session)),
      Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
      Layer.provideMerge(Store.memory),
      Layer.provideMerge(GatewayConfig.test((s) => ({ ...s, stateDir, heartbeat: { ...s.heartbeat, every } })))
    )
    return <A, E>(body: Effect.Effect<A, E, Layer.Success<typeof layer>>) =>
      body.pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(() => rmSync(stateDir, { recursive: true, force: true }))))
  }

  /** A session whose first relay turn fails (the model is down) and whose later ones answer. */
  const failFirstRelay = () => {
    const attempt = { n: 0 }
    const relays: Array<string> = []
    const reply = (r: Inbound): Effect.Effect<string, TurnFailed> => {
      if (r.relay === undefined) return Effect.succeed("ok")
      relays.push(r.source)
      attempt.n++
      return attempt.n === 1
        ? Effect.fail(new TurnFailed({ reason: "provider 503", userMessage: "Sorry, the model is unavailable." }))
        : Effect.succeed("your build finished")
    }
    return { attempt, relays, reply }
  }

  // When a relay turn failed, its events stayed in SystemEvents "for the next wake", but nothing once
  // requested that wake: the interval tick never looks at pending events and no retry was scheduled.
  // Unless another event arrived for the same chat, the exec result was never relayed (invariants 4
  // and 5: a wake must not be lost).
  it.effect("an exec result whose relay failed once is relayed later without needing another event", () => {
    const { attempt, reply } = failFirstRelay()
    const run = heartbeatGraph(reply, Duration.minutes(15))
    return run(Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      yield* events.enqueue("http:alice", "build #7 finished: exit 0", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.sync(() => attempt.n === 1), "first relay")
      yield* until(Effect.map((yield* HeartbeatRunner).stats, (s) => s.relaysInFlight.length === 0), "relay finished")
      // An hour passes: four interval ticks, plenty of retry windows; no new event for alice.
      const inboxTexts = Effect.map(Inbox.use((i) => i.read("http:alice", 0, 0)), (p) => p.messages.map((m) => m.text))
      for (let i = 0; i < 60; i++) {
        yield* TestClock.adjust("1 minute")
        for (let j = 0; j < 100 && !(yield* inboxTexts).includes("your build finished"); j++) yield* Effect.yieldNow
      }
      const inbox = yield* inboxTexts
      assert.include(inbox, "your build finished", `alice only ever got: ${JSON.stringify(inbox)}`)
    }))
  })

  // The retry must wake the session key whose relay failed, and only it: a retry that dropped the key
  // (a wake for "whoever has events") would relay bob's events, which nobody asked to relay yet.
  it.effect("the retried relay keeps its own session key: another chat's pending events stay unrelayed", () => {
    const { attempt, relays, reply } = failFirstRelay()
    const run = heartbeatGraph(reply, Duration.minutes(15))
    return run(Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      yield* events.enqueue("http:bob", "nightly report ready", { trusted: true }) // no wake asked for bob
      yield* events.enqueue("http:alice", "build #7 finished: exit 0", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.sync(() => attempt.n === 1), "first relay")
      const texts = (key: string) => Effect.map(Inbox.use((i) => i.read(key, 0, 0)), (p) => p.messages.map((m) => m.text))
      for (let i = 0; i < 60 && !(yield* texts("http:alice")).includes("your build finished"); i++) {
        yield* TestClock.adjust("1 minute")
        for (let j = 0; j < 100 && !(yield* texts("http:alice")).includes("your build finished"); j++) yield* Effect.yieldNow
      }
      assert.include(yield* texts("http:alice"), "your build finished")
      assert.deepStrictEqual(relays, ["http:alice", "http:alice"])
      assert.deepStrictEqual(yield* texts("http:bob"), [])
      assert.deepStrictEqual((yield* events.peek("http:bob")).map((e) => e.text), ["nightly report ready"])
    }))
  })
})
