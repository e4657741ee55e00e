// The heartbeat: on its interval it writes the tripwire and takes a local health snapshot
// (in-process state only; the digest flushes on a schedule of its own, src/checks/). It NEVER
// prompts the session (ADR-0103: a heartbeat turn blocked the gateway for 90 s). Wakes for a session key with pending system events become one
// `relay` request for that key; the events it showed are consumed only when that turn replied.
//
// Replaceable in place (reload, SIGHUP): each runner lives in its own scope. Its finalizer
// interrupts only its own interval fiber and uninstalls only its own wake handler, so a stale owner
// closing late cannot stop its successor ("scheduler silently stops after 1–3 hours").
import {
  Clock,
  ConfigProvider,
  Context,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberHandle,
  FiberSet,
  Layer,
  Metric,
  Schedule,
  Scope,
  Semaphore
} from "effect"
import { heartbeatLastTick, heartbeatTicks } from "./metrics.ts"
import { makeRelays } from "./relays.ts"
import {
  checkSettings,
  describeSettings,
  type HeartbeatSettings,
  HeartbeatSettingsInvalid
} from "./settings.ts"
import { judgeTripwire, readTripwireSync, tripwirePath } from "./tripwire.ts"
import { type TripwireWriteFailed, writeTripwireFile } from "./tripwireWrite.ts"
import { judgeTurn } from "./turnHealth.ts"
import { firstTickDelay, sameSlot } from "./tickPolicy.ts"
import { CommandQueue } from "../core/CommandQueue.ts"
import { Dispatcher } from "../core/Dispatcher.ts"
import { ConfigSchema, GatewayConfig } from "../config/GatewayConfig.ts"
import { HeartbeatWake } from "./HeartbeatWake.ts"
import { Intake } from "../core/Intake.ts"
import { Router } from "../core/Router.ts"
import { Status } from "../core/Status.ts"
import { SystemEvents } from "./SystemEvents.ts"
import { supervised } from "../core/supervised.ts"
import { Persistence } from "../store/Persistence.ts"

/** In-process state only: no tool calls, no network, no prompts. */
export interface HealthSnapshot {
  readonly at: string
  readonly queueDepth: number
  readonly oldestWaitMs: number
  readonly active: { readonly id: string; readonly source: string; readonly ageMs: number } | null
  readonly channels: ReadonlyArray<string>
  readonly failures: { readonly turnsFailed: number; readonly turnsTimedOut: number; readonly deliveryFailures: number }
}

export interface HeartbeatStats {
  readonly settings: HeartbeatSettings
  readonly lastTickAt: number | undefined
  readonly lastTripwireAt: number | undefined
  readonly ticks: number
  readonly tickFailures: number
  /** Runners started so far (1 + reloads). */
  readonly generation: number
  /** Interval fibers alive right now: 1 in a healthy daemon. */
  readonly liveRunners: number
  readonly relaysInFlight: ReadonlyArray<string>
}

export interface RunnerOptions {
  /** How a tick writes the tripwire (default: atomic write-then-rename in the state dir). */
  readonly writeTripwire?: ((stateDir: string, at: number) => Effect.Effect<void, TripwireWriteFailed>) | undefined
  /** How reload re-reads the settings (default: the heartbeat section from the ConfigProvider). */
  readonly loadSettings?: Effect.Effect<HeartbeatSettings, HeartbeatSettingsInvalid> | undefined
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

export class HeartbeatRunner extends Context.Service<HeartbeatRunner, {
  /** Re-read the heartbeat settings and replace the runner with one using them. */
  readonly reload: Effect.Effect<HeartbeatSettings, HeartbeatSettingsInvalid>
  /** Replace the runner with one using `settings` (the old one stops, the new one keeps the tick phase). */
  readonly replace: (settings: HeartbeatSettings) => Effect.Effect<void, HeartbeatSettingsInvalid>
  /**
   * Start a runner owned by `owner`: closing that scope stops this runner only. `replace` is this
   * plus closing the previous owner; exposed so the ownership rule can be tested directly.
   */
  readonly start: (owner: Scope.Scope, settings: HeartbeatSettings) => Effect.Effect<void, HeartbeatSettingsInvalid>
  readonly stats: Effect.Effect<HeartbeatStats>
}>()("switchboard/HeartbeatRunner") {
  static readonly layerWith = (options: RunnerOptions = {}) =>
    Layer.effect(
      HeartbeatRunner,
      Effect.gen(function*() {
        const config = yield* GatewayConfig
        const intake = yield* Intake
        const dispatcher = yield* Dispatcher
        const status = yield* Status
        const queue = yield* CommandQueue
        const router = yield* Router
        const events = yield* SystemEvents
        const wake = yield* HeartbeatWake
        const persistence = yield* Persistence
        const layerScope = yield* Effect.scope
        const provider = yield* ConfigProvider.ConfigProvider
        const writeTripwire = options.writeTripwire ?? writeTripwireFile
        const loadSettings = options.loadSettings ??
          ConfigSchema.parse(provider).pipe(
            Effect.map((s) => s.heartbeat),
            Effect.mapError((e) => new HeartbeatSettingsInvalid({ variable: "configuration", expected: e.message }))
          )

        const initial = config.heartbeat
        const invalid = checkSettings(initial)
        if (invalid !== undefined) return yield* invalid

        const state = {
          settings: initial,
          lastTickAt: undefined as number | undefined,
          lastTripwireAt: undefined as number | undefined,
          lastTickError: undefined as string | undefined,
          ticks: 0,
          tickFailures: 0,
          generation: 0,
          owner: undefined as Scope.Closeable | undefined,
          snapshot: undefined as HealthSnapshot | undefined
        }
        const liveRunners = new Set<number>()
        for (const outcome of ["ok", "failed"]) {
          yield* Metric.update(Metric.withAttributes(heartbeatTicks, { outcome }), 0) // series from the start
        }
        const tickLock = yield* Semaphore.make(1)
        const replaceLock = yield* Semaphore.make(1)
        const intervalHandle = yield* FiberHandle.make<void, never>()

        const snapshot = Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const q = yield* queue.stats
          const active = yield* dispatcher.active
          const d = yield* dispatcher.stats
          const r = yield* router.stats
          return {
            at: new Date(now).toISOString(),
            queueDepth: q.depth,
            oldestWaitMs: q.oldestWaitMs,
            active: active === undefined ? null : { id: active.id, source: active.source, ageMs: now - active.startedAt },
            channels: r.channels,
            failures: { turnsFailed: d.failed, turnsTimedOut: d.timedOut, deliveryFailures: r.failed }
          } satisfies HealthSnapshot
        })

        const tickBody = (now: number) =>
          Effect.gen(function*() {
            yield* writeTripwire(config.stateDir, now).pipe(
              Effect.tapError((e) => persistence.failed("tripwire", e.reason))
            )
            yield* persistence.succeeded("tripwire")
            state.lastTripwireAt = now
            yield* Metric.update(heartbeatLastTick, Math.floor(now / 1000))
            state.snapshot = yield* snapshot
          })

        /** One tick per interval slot, whichever runner reaches it first. Never fails. */
        const tick = (every: Duration.Duration) =>
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            // A runner replaced right at a slot may reach it after its successor did: tick once.
            if (sameSlot(now, state.lastTickAt, Duration.toMillis(every))) return
            state.lastTickAt = now
            state.ticks++
            const exit = yield* Effect.exit(tickBody(now))
            if (Exit.isSuccess(exit)) {
              state.lastTickError = undefined
              yield* Metric.update(Metric.withAttributes(heartbeatTicks, { outcome: "ok" }), 1)
            } else {
              state.tickFailures++
              state.lastTickError = String(exit.cause)
              yield* Metric.update(Metric.withAttributes(heartbeatTicks, { outcome: "failed" }), 1)
              yield* Effect.logError(
                "heartbeat tick failed; the interval continues, but while ticks fail the tripwire ages and the " +
                  "watchdog will restart the daemon: check that SWITCHBOARD_STATE_DIR is writable",
                exit.cause
              )
            }
          }).pipe(
            tickLock.withPermit,
            // A root span: ticks must not hang off whatever started the runner (a reload request).
            Effect.withSpan("heartbeat.tick", { root: true })
          )

        /** Keeps the phase of the previous runner: the first tick is one interval after the last one. */
        const intervalLoop = (every: Duration.Duration, generation: number) =>
          Effect.gen(function*() {
            liveRunners.add(generation)
            const now = yield* Clock.currentTimeMillis
            yield* Effect.sleep(firstTickDelay(now, state.lastTickAt, Duration.toMillis(every)))
            yield* tick(every).pipe(Effect.repeat(Schedule.fixed(every)))
          }).pipe(
            Effect.asVoid,
            Effect.ensuring(Effect.sync(() => liveRunners.delete(generation))),
            Effect.annotateLogs({ heartbeatRunner: generation })
          )

        const relaysPart = makeRelays({ intake, events, wake, retryDelay: () => state.settings.retryDelay })
        // Registered for the layer's life, so relays survive a runner replacement.
        yield* dispatcher.onTurnFinished(relaysPart.onTurnFinished)

        const start = (owner: Scope.Scope, settings: HeartbeatSettings) =>
          Effect.gen(function*() {
            const invalid = checkSettings(settings)
            if (invalid !== undefined) return yield* invalid
            const generation = ++state.generation
            state.settings = settings
            // run() interrupts the previous interval fiber; the owner's finalizer interrupts only
            // this fiber (never FiberHandle.clear, which would kill a successor).
            const fiber = yield* FiberHandle.run(
              intervalHandle,
              intervalLoop(settings.every, generation).pipe(supervised({ name: "heartbeat interval" }))
            )
            yield* Scope.addFinalizer(owner, Fiber.interrupt(fiber))
            yield* wake.install(relaysPart.handleWake, { coalesce: settings.coalesce, retryDelay: settings.retryDelay }).pipe(
              Scope.provide(owner)
            )
            yield* Effect.logInfo("heartbeat runner started").pipe(
              Effect.annotateLogs({ generation, every: Duration.format(settings.every) })
            )
          })

        const replace = (settings: HeartbeatSettings) =>
          Effect.gen(function*() {
            const owner = yield* Scope.fork(layerScope)
            const started = yield* Effect.exit(start(owner, settings))
            if (Exit.isFailure(started)) {
              yield* Scope.close(owner, Exit.void)
              return yield* started
            }
            const previous = state.owner
            state.owner = owner
            if (previous !== undefined) yield* Scope.close(previous, Exit.void)
          }).pipe(replaceLock.withPermit)

        const reload = Effect.gen(function*() {
          const settings = yield* loadSettings
          yield* replace(settings)
          yield* Effect.logInfo("heartbeat reloaded").pipe(Effect.annotateLogs(describeSettings(settings)))
          return settings
        }).pipe(Effect.withSpan("heartbeat.reload"))

        const stats = Effect.sync((): HeartbeatStats => ({
          settings: state.settings,
          lastTickAt: state.lastTickAt,
          lastTripwireAt: state.lastTripwireAt,
          ticks: state.ticks,
          tickFailures: state.tickFailures,
          generation: state.generation,
          liveRunners: liveRunners.size,
          relaysInFlight: relaysPart.inFlight()
        }))

        yield* status.contribute(
          "heartbeat",
          Effect.gen(function*() {
            const s = state.settings
            const everyMs = Duration.toMillis(s.every)
            return {
              ...describeSettings(s),
              lastTickAt: iso(state.lastTickAt),
              lastTripwireAt: iso(state.lastTripwireAt),
              nextTickAt: iso(state.lastTickAt === undefined ? undefined : state.lastTickAt + everyMs),
              ticks: state.ticks,
              tickFailures: state.tickFailures,
              lastTickError: state.lastTickError ?? null,
              tripwire: tripwirePath(config.stateDir),
              generation: state.generation,
              liveRunners: liveRunners.size,
              health: state.snapshot ?? null,
              wake: yield* wake.stats,
              relays: { inFlight: relaysPart.inFlight(), ...relaysPart.counts() },
              systemEvents: yield* events.stats
            }
          })
        )

        yield* status.contributeHealth(
          "tripwire",
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const s = state.settings
            const j = judgeTripwire(
              readTripwireSync(config.stateDir),
              now,
              Duration.toMillis(s.every),
              Duration.toMillis(s.watchdogGrace)
            )
            return { status: j.status, detail: j.reason }
          })
        )

        yield* status.contributeHealth(
          "turn",
          Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            const j = judgeTurn(
              yield* dispatcher.active,
              now,
              Duration.toMillis(config.turn.timeout),
              Duration.toMillis(state.settings.watchdogGrace)
            )
            return { status: j.status, detail: j.detail }
          })
        )

        yield* replace(initial)
        return HeartbeatRunner.of({ reload, replace, start, stats })
      })
    )

  /** Needs GatewayConfig, the core (Intake, Dispatcher, Status, CommandQueue, Router), SystemEvents, HeartbeatWake. */
  static readonly layer = HeartbeatRunner.layerWith()

  /** SIGHUP reloads the heartbeat, like POST /v1/admin/reload. For the daemon only (tests call reload). */
  static readonly sighup = Layer.effectDiscard(
    Effect.gen(function*() {
      const runner = yield* HeartbeatRunner
      const run = yield* FiberSet.makeRuntime<never>()
      const onHup = () => {
        run(
          runner.reload.pipe(
            Effect.catch((e) => Effect.logError(`reload on SIGHUP failed: ${e.message}`))
          )
        )
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => process.on("SIGHUP", onHup)),
        () => Effect.sync(() => process.off("SIGHUP", onHup))
      )
    })
  )
}
