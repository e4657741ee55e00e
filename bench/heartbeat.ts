// Heartbeat benchmarks, in process on the real clock with the daemon's own services:
// - wake-to-relay-dispatch latency with an idle session (target: coalescing window + 5 ms);
// - tripwire write jitter while a long turn keeps the session busy (target: p99 ≤ 20 ms).
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Deferred, Duration, Effect, Layer, References } from "effect"
import type { Inbound } from "../src/domain/model.ts"
import { writeTripwireSync } from "../src/heartbeat/tripwire.ts"
import { core } from "../src/layers/Core.ts"
import { Dispatcher } from "../src/core/Dispatcher.ts"
import { GatewayConfig } from "../src/config/GatewayConfig.ts"
import { HeartbeatRunner } from "../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../src/heartbeat/HeartbeatWake.ts"
import { Intake } from "../src/core/Intake.ts"
import { Session } from "../src/core/Session.ts"
import { SystemEvents } from "../src/heartbeat/SystemEvents.ts"
import { Store } from "../src/store/Store.ts"

export interface Figures {
  readonly [name: string]: number | string
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

const round = (n: number) => +n.toFixed(2)

const COALESCE_MS = 250
const TICK_MS = 25

/** The daemon's graph with a session that reports each prompt and can be held busy. */
const graph = (stateDir: string, onPrompt: (r: Inbound, at: number) => Effect.Effect<string>, onTick: (at: number) => void) => {
  const session = Layer.succeed(
    Session,
    Session.of({
      prompt: (request) => Effect.map(onPrompt(request, performance.now()), (text) => ({ text })),
      reset: Effect.void,
      info: Effect.succeed({ provider: "bench", model: "bench" })
    })
  )
  const config = GatewayConfig.test((s) => ({
    ...s,
    stateDir,
    turn: { ...s.turn, timeout: Duration.minutes(5) },
    heartbeat: { ...s.heartbeat, every: Duration.millis(TICK_MS), coalesce: Duration.millis(COALESCE_MS) }
  }))
  return HeartbeatRunner.layerWith({
    writeTripwire: (dir, at) =>
      Effect.sync(() => {
        writeTripwireSync(dir, at)
        onTick(performance.now())
      })
  }).pipe(
    Layer.provideMerge(core(session)),
    Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(config)
  )
}

/** Busy the event loop in small slices, as a streaming turn parsing tokens would. */
const busyTurn = (ms: number) =>
  Effect.gen(function*() {
    const end = performance.now() + ms
    while (performance.now() < end) {
      const sliceEnd = performance.now() + 2
      while (performance.now() < sliceEnd) { /* 2 ms of CPU */ }
      yield* Effect.sleep("3 millis")
    }
    return "done"
  })

export const runHeartbeat = async (): Promise<Figures> => {
  const stateDir = mkdtempSync(join(tmpdir(), "switchboard-bench-heartbeat-"))
  const dispatched = new Map<string, number>()
  const signals = new Map<string, Deferred.Deferred<void>>()
  const ticks: Array<number> = []
  let recordTicks = false

  const onPrompt = (r: Inbound, at: number) =>
    Effect.gen(function*() {
      if (r.relay !== undefined) {
        dispatched.set(r.relay.sessionKey, at)
        const d = signals.get(r.relay.sessionKey)
        if (d) yield* Deferred.succeed(d, undefined)
        return "NO_REPLY"
      }
      return yield* busyTurn(Number(r.text))
    })

  const program = Effect.gen(function*() {
    const events = yield* SystemEvents
    const wake = yield* HeartbeatWake
    const intake = yield* Intake

    // 1. Idle: event + wake → the relay turn starts.
    const latencies: Array<number> = []
    for (let i = 0; i < 45; i++) {
      const key = `http:bench-${i}`
      const done = yield* Deferred.make<void>()
      signals.set(key, done)
      yield* events.enqueue(key, `job ${i} finished`, { trusted: true })
      const t0 = performance.now()
      yield* wake.request({ reason: "exec-event", sessionKey: key })
      yield* Deferred.await(done)
      if (i >= 5) latencies.push(dispatched.get(key)! - t0) // the first few warm the JIT up
    }
    latencies.sort((a, b) => a - b)

    // 2. Busy: a 5-second CPU-slicing turn runs while the interval ticks every TICK_MS.
    recordTicks = true
    yield* intake.submit({ id: "busy", source: "http:bench", text: "5000" })
    yield* Effect.sleep("5 seconds")
    recordTicks = false
    const dispatcher = yield* Dispatcher
    while ((yield* dispatcher.active) !== undefined) yield* Effect.sleep("10 millis")
    const jitter = ticks.slice(1).map((t, i) => Math.abs(t - ticks[i]! - TICK_MS)).sort((a, b) => a - b)

    return {
      "wake→relay dispatch p50 ms (idle; window 250 ms)": round(percentile(latencies, 50)),
      "wake→relay dispatch p99 ms": round(percentile(latencies, 99)),
      "wake→relay dispatch max ms": round(latencies.at(-1)!),
      "wake→relay overhead over window p99 ms (target ≤ 5)": round(percentile(latencies, 99) - COALESCE_MS),
      [`tripwire ticks during a busy turn (every ${TICK_MS} ms)`]: ticks.length,
      "tripwire jitter p50 ms": round(percentile(jitter, 50)),
      "tripwire jitter p99 ms (target ≤ 20)": round(percentile(jitter, 99)),
      "tripwire jitter max ms": round(jitter.at(-1) ?? NaN)
    } satisfies Figures
  })

  try {
    return await Effect.runPromise(
      program.pipe(
        Effect.provide(graph(stateDir, onPrompt, (at) => void (recordTicks && ticks.push(at)))),
        Effect.provideService(References.MinimumLogLevel, "Warn")
      )
    )
  } finally {
    rmSync(stateDir, { recursive: true, force: true })
  }
}

// `node bench/heartbeat.ts` runs this section alone.
if (import.meta.main) console.table(await runHeartbeat())
