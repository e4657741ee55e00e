// HeartbeatRunner on the daemon's own core services (core(testSession) + GatewayConfig.test) and
// the TestClock: ticks survive 1,000 replacements, the tripwire keeps ticking during a long turn
// without the heartbeat ever prompting, relays reach their own session key and only theirs.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Exit, Layer, Option, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import { TurnFailed } from "../../src/domain/errors.ts"
import type { Inbound } from "../../src/domain/model.ts"
import type { HeartbeatSettings } from "../../src/heartbeat/settings.ts"
import { writeTripwireSync } from "../../src/heartbeat/tripwire.ts"
import { core } from "../../src/layers/Core.ts"
import { CommandQueue } from "../../src/core/CommandQueue.ts"
import { Dispatcher } from "../../src/core/Dispatcher.ts"
import { GatewayConfig, type GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { HeartbeatRunner, type RunnerOptions } from "../../src/heartbeat/HeartbeatRunner.ts"
import { TripwireWriteFailed } from "../../src/heartbeat/tripwireWrite.ts"
import { HeartbeatWake } from "../../src/heartbeat/HeartbeatWake.ts"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
import { Session } from "../../src/core/Session.ts"
import { Status } from "../../src/core/Status.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { until } from "../support/harness.ts"
import { recordingTracer } from "../support/recordingTracer.ts"
import { Store } from "../../src/store/Store.ts"

type Reply = (request: Inbound) => Effect.Effect<string, TurnFailed>

interface Prompt {
  readonly request: Inbound
  readonly at: number
}

const tmpStateDir = () => mkdtempSync(join(tmpdir(), "switchboard-heartbeat-"))

/** The daemon's graph with a scripted session: heartbeat runner above the core, events and wake below it. */
const harness = (options: {
  readonly heartbeat?: Partial<HeartbeatSettings>
  readonly patch?: (s: GatewaySettings) => GatewaySettings
  readonly reply?: Reply
  readonly runner?: RunnerOptions
} = {}) => {
  const prompts: Array<Prompt> = []
  const stateDir = tmpStateDir()
  const reply: Reply = options.reply ?? ((r) => Effect.succeed(`echo: ${r.text}`))
  const session = Layer.succeed(
    Session,
    Session.of({
      prompt: (request) =>
        Effect.gen(function*() {
          prompts.push({ request, at: yield* Clock.currentTimeMillis })
          return { text: yield* reply(request) }
        }),
      reset: Effect.void,
      info: Effect.succeed({ provider: "test", model: "test" })
    })
  )
  const config = GatewayConfig.test((s) => {
    const patched = options.patch ? options.patch(s) : s
    return { ...patched, stateDir, heartbeat: { ...patched.heartbeat, ...options.heartbeat } }
  })
  const layer = HeartbeatRunner.layerWith(options.runner).pipe(
    Layer.provideMerge(core(session)),
    Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(config)
  )
  return {
    prompts,
    stateDir,
    run: <A, E>(body: Effect.Effect<A, E, Layer.Success<typeof layer>>) =>
      body.pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(() => rmSync(stateDir, { recursive: true, force: true }))))
  }
}

const inboxTexts = (source: string) =>
  Effect.map(Inbox.use((i) => i.read(source, 0, 0)), (page) => page.messages.map((m) => m.text))

/** Deterministic PRNG (mulberry32) so the random replacement moments are reproducible. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

describe("HeartbeatRunner: interval and ownership", () => {
  it.effect("24 simulated hours, runner replaced 1,000 times at random moments: every tick, no gap, no duplicate, no leak", () => {
    const ticks: Array<number> = []
    const h = harness({
      heartbeat: { every: Duration.minutes(1) },
      runner: { writeTripwire: (_dir, at) => Effect.sync(() => void ticks.push(at)) }
    })
    return h.run(Effect.gen(function*() {
      const runner = yield* HeartbeatRunner
      const wake = yield* HeartbeatWake
      const settings = (yield* GatewayConfig).heartbeat
      const random = seeded(20260122)
      const day = Duration.toMillis(Duration.hours(24))
      const moments = Array.from({ length: 1000 }, () => Math.floor(random() * day)).sort((a, b) => a - b)
      // Half the replacements go through replace() (reload); the other half start a runner in a
      // scope of their own whose finalizer runs late, after one to five newer runners started.
      const stale: Array<{ scope: Scope.Closeable; closeAfter: number }> = []
      let now = 0
      for (const [i, moment] of moments.entries()) {
        yield* TestClock.adjust(moment - now)
        now = moment
        if (i % 2 === 0) {
          yield* runner.replace(settings)
        } else {
          const scope = yield* Scope.make()
          yield* runner.start(scope, settings)
          stale.push({ scope, closeAfter: i + 1 + Math.floor(random() * 5) })
        }
        // Wakes never move the interval.
        if (i % 3 === 0) yield* wake.request({ reason: "exec-event", sessionKey: "http:alice", coalesce: random() * 30_000 })
        for (const s of stale.filter((s) => s.closeAfter <= i)) yield* Scope.close(s.scope, Exit.void)
      }
      yield* runner.replace(settings)
      for (const s of stale) yield* Scope.close(s.scope, Exit.void) // idempotent for those already closed
      yield* TestClock.adjust(day - now)

      const expected = Array.from({ length: day / 60_000 + 1 }, (_, k) => k * 60_000)
      assert.strictEqual(ticks.length, expected.length, "one tick per interval, none missing, none doubled")
      assert.deepStrictEqual(ticks, expected)
      const stats = yield* runner.stats
      assert.strictEqual(stats.generation, 1002)
      assert.strictEqual(stats.liveRunners, 1, "every replaced runner's fiber has ended")
      assert.isTrue((yield* wake.stats).handlerInstalled)
    }))
  }, 60_000)

  it.effect("a stale runner's finalizer running after the new runner started leaves it ticking and handling wakes", () => {
    const ticks: Array<number> = []
    const h = harness({
      heartbeat: { every: Duration.seconds(10) },
      runner: { writeTripwire: (_dir, at) => Effect.sync(() => void ticks.push(at)) }
    })
    return h.run(Effect.gen(function*() {
      const runner = yield* HeartbeatRunner
      const settings = (yield* GatewayConfig).heartbeat
      const scopeA = yield* Scope.make()
      const scopeB = yield* Scope.make()
      yield* runner.start(scopeA, settings)
      yield* TestClock.adjust("15 seconds")
      yield* runner.start(scopeB, settings)
      yield* Scope.close(scopeA, Exit.void) // the stale owner's finalizer, late
      yield* Scope.close(scopeA, Exit.void) // stopping twice is harmless
      yield* TestClock.adjust("30 seconds")
      assert.deepStrictEqual(ticks, [0, 10_000, 20_000, 30_000, 40_000])
      assert.strictEqual((yield* runner.stats).liveRunners, 1)

      const events = yield* SystemEvents
      yield* events.enqueue("http:alice", "job 7 finished", { trusted: true })
      yield* (yield* HeartbeatWake).request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.map(inboxTexts("http:alice"), (t) => t.length > 0), "relay delivered")
      assert.strictEqual(h.prompts.length, 1, "B's wake handler relayed the event")

      yield* Scope.close(scopeB, Exit.void)
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(ticks.length, 5, "closing the current owner stops it")
      assert.strictEqual((yield* runner.stats).liveRunners, 0)
      // Its wake handler goes with it (owned by the runner's scope, not the layer's): no handler is
      // left installed, and a wake relays nothing any more.
      const wake = yield* HeartbeatWake
      assert.isFalse((yield* wake.stats).handlerInstalled, "a closed runner's wake handler is still installed")
      yield* events.enqueue("http:alice", "job 8 finished", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(h.prompts.length, 1, "a wake after the owner closed still relayed")
    }))
  })

  it.effect("during a 60-second turn a 1-second interval keeps writing the tripwire and never prompts the session", () => {
    const h = harness({
      heartbeat: { every: Duration.seconds(1) },
      reply: (r) => (r.text === "long job" ? Effect.as(Effect.sleep("60 seconds"), "done") : Effect.succeed("ok"))
    })
    return h.run(Effect.gen(function*() {
      const intake = yield* Intake
      const dispatcher = yield* Dispatcher
      yield* intake.submit({ id: "m1", source: "http:bob", text: "long job" })
      yield* until(Effect.map(dispatcher.active, (a) => a?.id === "m1"), "bob's turn running")
      const seen = new Set<string>()
      for (let s = 0; s < 60; s++) {
        yield* TestClock.adjust("1 second")
        seen.add(readFileSync(join(h.stateDir, "tripwire"), "utf8").trim())
      }
      assert.isAtLeast(seen.size, 59, "the tripwire file changed every second of the turn")
      assert.include([...seen], new Date(60_000).toISOString())
      assert.deepStrictEqual(h.prompts.map((p) => p.request.id), ["m1"], "the heartbeat sent no prompt")
      yield* until(Effect.map(inboxTexts("http:bob"), (t) => t.includes("done")), "bob's reply")
      const status = yield* (yield* Status).snapshot
      const hb = status["heartbeat"] as { ticks: number; lastTickAt: string }
      assert.strictEqual(hb.ticks, 61)
      assert.strictEqual(hb.lastTickAt, new Date(60_000).toISOString())
    }))
  })

  it.effect("a failing tick does not stop the interval; /health goes warn then fail on a stale tripwire", () => {
    const failing = { on: false }
    const ticks: Array<number> = []
    const h = harness({
      heartbeat: { every: Duration.seconds(10), watchdogGrace: Duration.seconds(5) },
      runner: {
        writeTripwire: (dir, at) =>
          failing.on
            ? Effect.fail(new TripwireWriteFailed({ path: dir, reason: "disk full" }))
            : Effect.sync(() => {
              ticks.push(at)
              writeTripwireSync(dir, at) // /health reads the real file
            })
      }
    })
    return h.run(Effect.gen(function*() {
      const status = yield* Status
      yield* until(Effect.sync(() => ticks.length === 1), "first tick")
      assert.strictEqual((yield* status.health).checks["tripwire"]!.status, "pass")
      failing.on = true
      yield* TestClock.adjust("20 seconds") // ticks at 10 s and 20 s fail
      const warn = (yield* status.health).checks["tripwire"]!
      assert.strictEqual(warn.status, "warn")
      yield* TestClock.adjust("10 seconds") // age 30 s > 2 × 10 s + 5 s
      const fail = yield* status.health
      assert.strictEqual(fail.status, "fail")
      assert.match(fail.checks["tripwire"]!.detail!, /stalled/)
      failing.on = false
      yield* TestClock.adjust("10 seconds")
      yield* until(Effect.sync(() => ticks.length === 2), "tick after the failures")
      assert.deepStrictEqual(ticks, [0, 40_000], "the interval re-armed after failed ticks")
      assert.strictEqual((yield* status.health).checks["tripwire"]!.status, "pass")
      const hb = (yield* status.snapshot)["heartbeat"] as { tickFailures: number; ticks: number }
      assert.strictEqual(hb.tickFailures, 3)
      assert.strictEqual(hb.ticks, 5)
    }))
  })

  it.effect("/health fails when a turn is stuck past its limit", () => {
    const release = Deferred.makeUnsafe<void>()
    const h = harness({
      patch: (s) => ({ ...s, turn: { ...s.turn, timeout: Duration.seconds(30) } }),
      heartbeat: { every: Duration.seconds(10), watchdogGrace: Duration.seconds(5) },
      // A turn that ignores interruption: the Dispatcher's timeout cannot stop it.
      reply: () => Effect.uninterruptible(Effect.as(Deferred.await(release), "late"))
    })
    return h.run(Effect.gen(function*() {
      const status = yield* Status
      yield* (yield* Intake).submit({ id: "stuck", source: "http:bob", text: "hang" })
      yield* until(Effect.map((yield* Dispatcher).active, (a) => a !== undefined), "turn running")
      yield* TestClock.adjust("20 seconds")
      assert.strictEqual((yield* status.health).checks["turn"]!.status, "pass")
      yield* TestClock.adjust("12 seconds")
      assert.strictEqual((yield* status.health).checks["turn"]!.status, "warn")
      yield* TestClock.adjust("5 seconds")
      const health = yield* status.health
      assert.strictEqual(health.status, "fail")
      assert.match(health.checks["turn"]!.detail!, /stuck past its 30s limit/)
      assert.strictEqual(health.checks["tripwire"]!.status, "pass", "the tripwire is fine: only the turn is stuck")
      yield* Deferred.succeed(release, undefined)
      yield* until(Effect.map((yield* Dispatcher).active, (a) => a === undefined), "turn ended")
      assert.strictEqual((yield* status.health).checks["turn"]!.status, "pass")
    }))
  })

  it.effect("after a reload, each tick is a trace of its own, not part of the reload request's trace", () => {
    const tracer = recordingTracer()
    const settings: HeartbeatSettings = {
      every: Duration.minutes(1),
      coalesce: Duration.millis(250),
      retryDelay: Duration.seconds(1),
      eventsPerKey: 20,
      watchdogGrace: Duration.seconds(30)
    }
    const h = harness({ heartbeat: { every: Duration.minutes(1) }, runner: { loadSettings: Effect.succeed(settings) } })
    return h.run(Effect.gen(function*() {
      const runner = yield* HeartbeatRunner
      yield* runner.reload.pipe(Effect.withSpan("POST /v1/admin/reload"), Effect.provide(tracer.layer))
      yield* TestClock.adjust("3 minutes")
      const ticks = tracer.spans.filter((span) => span.name === "heartbeat.tick")
      assert.isAtLeast(ticks.length, 3, JSON.stringify(tracer.spans.map((s) => s.name)))
      for (const tick of ticks) assert.isTrue(Option.isNone(tick.parent), "a tick hangs off the reload span")
    }))
  })

  it.effect("reload re-reads the settings and replaces the runner in place; bad settings keep the old one", () => {
    const ticks: Array<number> = []
    const source = { every: Duration.minutes(1) as Duration.Duration }
    const h = harness({
      heartbeat: { every: Duration.minutes(1) },
      runner: {
        writeTripwire: (_dir, at) => Effect.sync(() => void ticks.push(at)),
        loadSettings: Effect.sync(() => ({
          every: source.every,
          coalesce: Duration.millis(250),
          retryDelay: Duration.seconds(1),
          eventsPerKey: 20,
          watchdogGrace: Duration.seconds(30)
        }))
      }
    })
    return h.run(Effect.gen(function*() {
      const runner = yield* HeartbeatRunner
      yield* TestClock.adjust("90 seconds")
      source.every = Duration.seconds(20)
      const reloaded = yield* runner.reload
      assert.strictEqual(Duration.toMillis(reloaded.every), 20_000)
      yield* TestClock.adjust("50 seconds")
      // At 90 s a 20 s interval is overdue since the 60 s tick: it ticks at once, then every 20 s.
      assert.deepStrictEqual(ticks, [0, 60_000, 90_000, 110_000, 130_000])
      source.every = Duration.zero
      const refused = yield* Effect.flip(runner.reload)
      assert.match(refused.message, /SWITCHBOARD_HEARTBEAT_EVERY/)
      yield* TestClock.adjust("20 seconds")
      assert.deepStrictEqual(ticks.slice(-1), [150_000], "the old runner still ticks")
      const stats = yield* runner.stats
      assert.strictEqual(stats.liveRunners, 1)
      assert.strictEqual(Duration.toMillis(stats.settings.every), 20_000)
    }))
  })
})

describe("HeartbeatRunner: relays of system events", () => {
  it.effect("an event for http:alice during http:bob's long turn is relayed to alice only, after bob's turn, behind bob's queued message", () => {
    const h = harness({
      heartbeat: { every: Duration.hours(1) },
      reply: (r) =>
        r.relay !== undefined
          ? Effect.succeed(`relayed: ${r.text.split("\n").at(-1)}`)
          : r.text === "long job"
          ? Effect.as(Effect.sleep("60 seconds"), "bob done")
          : Effect.succeed(`bob: ${r.text}`)
    })
    return h.run(Effect.gen(function*() {
      const intake = yield* Intake
      const queue = yield* CommandQueue
      const dispatcher = yield* Dispatcher
      yield* intake.submit({ id: "b1", source: "http:bob", text: "long job" })
      yield* until(Effect.map(dispatcher.active, (a) => a?.id === "b1"), "bob's turn running")
      yield* TestClock.adjust("10 seconds")
      yield* intake.submit({ id: "b2", source: "http:bob", text: "and then this" })

      yield* (yield* SystemEvents).enqueue("http:alice", "build 42 finished", { trusted: true })
      yield* (yield* HeartbeatWake).request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("249 millis")
      assert.deepStrictEqual((yield* queue.pending).map((i) => i.request.id), ["b2"])
      yield* TestClock.adjust("1 millis")
      const pending = yield* queue.pending
      assert.deepStrictEqual(pending.map((i) => [i.request.source, i.request.priority]), [
        ["http:bob", "human"],
        ["http:alice", "relay"]
      ], "the relay waits behind bob's message")
      assert.strictEqual(pending[1]!.enqueuedAt, 10_250, "queued one coalescing window after the wake")

      yield* TestClock.adjust("50 seconds") // bob's turn ends at 60 s
      yield* until(Effect.map(inboxTexts("http:alice"), (t) => t.length > 0), "alice's relay")
      assert.deepStrictEqual(h.prompts.map((p) => [p.request.source, p.at]), [
        ["http:bob", 0],
        ["http:bob", 60_000],
        ["http:alice", 60_000]
      ])
      const relay = h.prompts[2]!.request
      assert.deepStrictEqual(relay.relay?.sessionKey, "http:alice")
      assert.match(relay.text, /System event 1970-01-01T00:00:10.000Z: build 42 finished/)
      assert.deepStrictEqual(yield* inboxTexts("http:alice"), [
        "relayed: System event 1970-01-01T00:00:10.000Z: build 42 finished"
      ])
      assert.deepStrictEqual(yield* inboxTexts("http:bob"), ["bob done", "bob: and then this"])
      yield* until(Effect.map((yield* SystemEvents).peek("http:alice"), (e) => e.length === 0), "events consumed")
    }))
  })

  it.effect("a failed relay keeps its events for the next wake; events arriving during a relay survive it", () => {
    const attempt = { n: 0 }
    const h = harness({
      heartbeat: { every: Duration.hours(1) },
      reply: (r) => {
        if (r.relay === undefined) return Effect.succeed("ok")
        attempt.n++
        if (attempt.n === 1) return Effect.fail(new TurnFailed({ reason: "model down", userMessage: "Sorry." }))
        if (attempt.n === 2) return Effect.as(Effect.sleep("5 seconds"), "relay two")
        return Effect.succeed("relay three")
      }
    })
    return h.run(Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      const relays = () => h.prompts.filter((p) => p.request.relay !== undefined).map((p) => p.request.text.split("\n").slice(3))

      yield* events.enqueue("http:alice", "one", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.sync(() => attempt.n === 1), "first relay")
      yield* until(Effect.map((yield* HeartbeatRunner).stats, (s) => s.relaysInFlight.length === 0), "relay finished")
      assert.deepStrictEqual((yield* events.peek("http:alice")).map((e) => e.text), ["one"], "failed relay kept its event")

      // The next wake relays it again; an event arrives while that relay runs.
      yield* events.enqueue("http:alice", "two", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.sync(() => attempt.n === 2), "second relay running")
      yield* TestClock.adjust("1 second")
      yield* events.enqueue("http:alice", "three", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("4 seconds") // the second relay completes at 5.5 s
      yield* until(Effect.map(events.peek("http:alice"), (e) => e.length === 1), "second relay consumed its events")
      assert.deepStrictEqual((yield* events.peek("http:alice")).map((e) => e.text), ["three"])

      // The wake for "three" found a relay in flight: it is retried and relays only "three".
      yield* TestClock.adjust("2 seconds")
      yield* until(Effect.sync(() => attempt.n === 3), "third relay")
      yield* until(Effect.map(events.peek("http:alice"), (e) => e.length === 0), "third relay consumed")
      assert.deepStrictEqual(relays().map((lines) => lines.map((l) => l.replace(/^.*Z: /, ""))), [
        ["one"],
        ["one", "two"],
        ["three"]
      ])
      assert.deepStrictEqual(yield* inboxTexts("http:alice"), ["Sorry.", "relay two", "relay three"])
    }))
  })

  it.effect("a relay answered NO_REPLY delivers nothing and consumes its events; a wake without events does nothing", () => {
    const h = harness({ heartbeat: { every: Duration.hours(1) }, reply: () => Effect.succeed("NO_REPLY") })
    return h.run(Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      yield* wake.request({ reason: "manual", sessionKey: "http:alice" })
      yield* wake.request({ reason: "manual" })
      yield* TestClock.adjust("1 second")
      assert.strictEqual(h.prompts.length, 0)

      yield* events.enqueue("http:alice", "nothing interesting")
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.map(events.peek("http:alice"), (e) => e.length === 0), "consumed")
      assert.strictEqual(h.prompts.length, 1)
      assert.match(h.prompts[0]!.request.text, /UNTRUSTED/)
      assert.deepStrictEqual(yield* inboxTexts("http:alice"), [])
    }))
  })

  it.effect("/status shows the heartbeat section with per-key pending events and drops", () => {
    const h = harness({ heartbeat: { every: Duration.minutes(5), eventsPerKey: 2 } })
    return h.run(Effect.gen(function*() {
      const events = yield* SystemEvents
      for (const t of ["a", "b", "c"]) yield* events.enqueue("telegram:222", t)
      yield* TestClock.adjust("1 second")
      const hb = (yield* (yield* Status).snapshot)["heartbeat"] as Record<string, any>
      assert.strictEqual(hb["every"], "5m")
      assert.strictEqual(hb["ticks"], 1)
      assert.strictEqual(hb["lastTickAt"], new Date(0).toISOString())
      assert.strictEqual(hb["nextTickAt"], new Date(300_000).toISOString())
      assert.strictEqual(hb["liveRunners"], 1)
      assert.deepStrictEqual(hb["systemEvents"]["pending"], { "telegram:222": 2 })
      assert.strictEqual(hb["systemEvents"]["dropped"], 1)
      assert.strictEqual(hb["health"]["queueDepth"], 0)
      assert.strictEqual(hb["wake"]["handlerInstalled"], true)
    }))
  })
})
