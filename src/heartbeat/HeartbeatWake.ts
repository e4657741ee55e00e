// Requests to run the heartbeat soon, for a reason and optionally for one session key. Requests
// coalesce in a window, merge per target with reason priority, an earlier due time preempts a later
// timer, and a wake that cannot proceed is retried with its reason AND session key after a floor
// that later requests cannot shorten. The runner that handles wakes installs itself for the life of
// its own scope: a replaced runner's finalizer can only remove itself, never its successor.
import { Clock, Context, Deferred, Duration, Effect, Layer, Metric, Scope } from "effect"
import { wakeRuns } from "./metrics.ts"
import { armTimer, eligibleAt, mergeWake, type PendingWake, retryOf, targetOf, type WakeReason } from "./wakePolicy.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { supervised } from "../core/supervised.ts"

export type { WakeReason } from "./wakePolicy.ts"

export interface WakeRequest {
  readonly reason: WakeReason
  readonly sessionKey?: string | undefined
  /** Coalescing window for this request; defaults to the configured window (250 ms). */
  readonly coalesce?: Duration.Input | undefined
}

/** One run for one target, as the handler sees it. */
export interface Wake {
  readonly reason: WakeReason
  readonly sessionKey: string | undefined
  readonly requestedAt: number
}

/** `Busy`: the wake could not proceed now; it is retried later with the same reason and key. */
export type WakeOutcome = "Ran" | "Skipped" | "Busy"

export type WakeHandler = (wake: Wake) => Effect.Effect<WakeOutcome>

export interface WakeTiming {
  readonly coalesce: Duration.Duration
  readonly retryDelay: Duration.Duration
}

export interface WakeStats {
  /** Targets waiting to run, with their reason (target "" is a wake without session key). */
  readonly pending: ReadonlyArray<{ readonly sessionKey: string | null; readonly reason: string; readonly notBefore: number | null }>
  readonly dueAt: number | null
  readonly handlerInstalled: boolean
  readonly requests: number
  readonly runs: number
  readonly retries: number
  readonly lastRun: { readonly at: number; readonly reason: string; readonly sessionKey: string | null; readonly outcome: WakeOutcome } | null
}

/** A handler gets this long per wake; a hung handler counts as Busy rather than stalling every wake. */
const HANDLER_LIMIT = Duration.seconds(30)

export class HeartbeatWake extends Context.Service<HeartbeatWake, {
  readonly request: (request: WakeRequest) => Effect.Effect<void>
  /**
   * Handle wakes while the caller's scope lives (the newest install wins; closing an older one's
   * scope does not remove a newer one). `timing` replaces the configured window and retry delay
   * while this handler is installed (reload). Requests made before any install wait for it.
   */
  readonly install: (handler: WakeHandler, timing?: WakeTiming) => Effect.Effect<void, never, Scope.Scope>
  readonly stats: Effect.Effect<WakeStats>
}>()("switchboard/HeartbeatWake") {
  static readonly make = (defaults: WakeTiming) =>
    Effect.gen(function*() {
      interface Installed {
        readonly handler: WakeHandler
        readonly timing: WakeTiming
      }
      const pending = new Map<string, PendingWake>()
      const state: {
        dueAt: number | undefined
        installed: Installed | undefined
        changed: Deferred.Deferred<void>
        requests: number
        runs: number
        retries: number
        lastRun: WakeStats["lastRun"]
      } = {
        dueAt: undefined,
        installed: undefined,
        changed: yield* Deferred.make<void>(),
        requests: 0,
        runs: 0,
        retries: 0,
        lastRun: null
      }
      const timing = () => state.installed?.timing ?? defaults

      /** Wake the loop so it re-reads the timer and the handler. */
      const signal = () => {
        const woken = state.changed
        state.changed = Deferred.makeUnsafe<void>()
        Deferred.doneUnsafe(woken, Effect.void)
      }

      const arm = (dueAt: number) => {
        const next = armTimer(state.dueAt, dueAt)
        if (next !== state.dueAt) {
          state.dueAt = next
          signal()
        }
      }

      const request = (r: WakeRequest) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const windowMs = r.coalesce === undefined
            ? Duration.toMillis(timing().coalesce)
            : Math.max(0, Duration.toMillis(Duration.fromInputUnsafe(r.coalesce)))
          const target = targetOf(r.sessionKey)
          pending.set(
            target,
            mergeWake(pending.get(target), { reason: r.reason, sessionKey: r.sessionKey, requestedAt: now, notBefore: 0 })
          )
          state.requests++
          arm(now + windowMs)
        })

      const runOne = (installed: Installed, wake: PendingWake) =>
        installed.handler({ reason: wake.reason, sessionKey: wake.sessionKey, requestedAt: wake.requestedAt }).pipe(
          Effect.timeoutOption(HANDLER_LIMIT),
          Effect.map((o) => (o._tag === "Some" ? o.value : "Busy" as const)),
          Effect.catchCause((cause) =>
            Effect.logError("wake handler failed; will retry", cause).pipe(Effect.as("Busy" as const))
          ),
          Effect.tap((outcome) =>
            Metric.update(Metric.withAttributes(wakeRuns, { reason: wake.reason, outcome }), 1)
          ),
          Effect.withSpan("heartbeat.wake", {
            attributes: { "switchboard.source": wake.sessionKey ?? "", "switchboard.wake_reason": wake.reason }
          })
        )

      const runBatch = (installed: Installed, now: number) =>
        Effect.gen(function*() {
          const { ready, waiting } = eligibleAt([...pending.values()], now)
          for (const wake of ready) pending.delete(targetOf(wake.sessionKey))
          for (const wake of ready) {
            const outcome = yield* runOne(installed, wake)
            state.runs++
            const at = yield* Clock.currentTimeMillis
            state.lastRun = { at, reason: wake.reason, sessionKey: wake.sessionKey ?? null, outcome }
            if (outcome === "Busy") {
              state.retries++
              const target = targetOf(wake.sessionKey)
              // Keep reason and key; requests that arrived meanwhile merge in, and cannot lower the floor.
              const retry = retryOf(wake, at, Duration.toMillis(timing().retryDelay))
              const arrived = pending.get(target)
              pending.set(target, arrived === undefined ? retry : mergeWake(retry, arrived))
            }
          }
          // Whatever waits for a floor needs the timer at that floor.
          for (const wake of [...waiting, ...pending.values()]) if (wake.notBefore > 0) arm(wake.notBefore)
        })

      // The one loop: runs never overlap, and a timer is just "the loop's next due time".
      const loop = Effect.gen(function*() {
        for (;;) {
          const changed = state.changed
          const installed = state.installed
          const dueAt = state.dueAt
          if (dueAt === undefined || installed === undefined) {
            yield* Deferred.await(changed)
            continue
          }
          const now = yield* Clock.currentTimeMillis
          if (dueAt > now) {
            yield* Effect.race(Effect.sleep(dueAt - now), Deferred.await(changed))
            continue
          }
          state.dueAt = undefined
          yield* runBatch(installed, now)
        }
      })
      yield* loop.pipe(supervised({ name: "heartbeat wake" }), Effect.forkScoped)

      const install = (handler: WakeHandler, t?: WakeTiming) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const installed: Installed = { handler, timing: t ?? defaults }
            state.installed = installed
            signal()
            return installed
          }),
          // Only remove ourselves: a stale owner closing late must not uninstall its successor.
          (installed) =>
            Effect.sync(() => {
              if (state.installed === installed) {
                state.installed = undefined
                signal()
              }
            })
        ).pipe(Effect.asVoid)

      const stats = Effect.sync((): WakeStats => ({
        pending: [...pending.values()].map((p) => ({
          sessionKey: p.sessionKey ?? null,
          reason: p.reason,
          notBefore: p.notBefore > 0 ? p.notBefore : null
        })),
        dueAt: state.dueAt ?? null,
        handlerInstalled: state.installed !== undefined,
        requests: state.requests,
        runs: state.runs,
        retries: state.retries,
        lastRun: state.lastRun
      }))

      return HeartbeatWake.of({ request, install, stats })
    })

  /** Timing from GatewayConfig. Needs only GatewayConfig: composable below the Session. */
  static readonly layer = Layer.effect(
    HeartbeatWake,
    GatewayConfig.use((c) => HeartbeatWake.make({ coalesce: c.heartbeat.coalesce, retryDelay: c.heartbeat.retryDelay }))
  )
}
