// Keeps read sessions going: a session that ends with an error (Redis down, restarted, stalled; or
// a bug) is followed by the next one after a capped exponential backoff, which starts over once a
// session got through. The state (connecting → up → down → up …) is logged once per change, never
// once per retry: an outage of hours is two lines, not millions.
import { Cause, Clock, Duration, Effect, Exit, Metric, type Scope } from "effect"
import { busReconnects, busUp } from "./metrics.ts"
import { reconnectDelayMs } from "./names.ts"
import type { BusStats } from "./stats.ts"

export interface Lifecycle {
  readonly up: Effect.Effect<void>
  readonly down: (reason: string) => Effect.Effect<void>
  readonly stopped: Effect.Effect<void>
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The channel's entry in Channels (/status `channels.redis`), told of every change. */
export interface LifeHooks {
  readonly up: Effect.Effect<void>
  readonly failing: (reason: string) => Effect.Effect<void>
}

const noHooks: LifeHooks = { up: Effect.void, failing: () => Effect.void }

export const makeLifecycle = (stats: BusStats, reconnectMaxMs: number, life: LifeHooks = noHooks): Lifecycle => {
  let sinceMs = Date.parse(stats.since)
  const enter = (state: BusStats["state"], now: number) => {
    stats.state = state
    stats.since = iso(now)
    sinceMs = now
  }
  const where = { consumer: stats.consumer, server: stats.server }

  const up = Effect.gen(function*() {
    if (stats.state === "up") return
    yield* life.up
    const now = yield* Clock.currentTimeMillis
    const was = stats.state
    const outage = now - sinceMs
    enter("up", now)
    yield* Metric.update(busUp, 1)
    if (was === "down") {
      stats.reconnects++
      yield* Metric.update(busReconnects, 1)
      yield* Effect.logInfo(`redis bus: connected again after ${Duration.format(Duration.millis(outage))}`).pipe(
        Effect.annotateLogs(where)
      )
    } else {
      yield* Effect.logInfo("redis bus: reading switchboard:inbound").pipe(Effect.annotateLogs(where))
    }
  })

  const down = (reason: string) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      stats.lastError = reason
      stats.lastErrorAt = iso(now)
      if (stats.state === "stopped") return
      yield* life.failing(reason)
      if (stats.state === "down") return
      const was = stats.state
      enter("down", now)
      yield* Metric.update(busUp, 0)
      yield* Effect.logWarning(
        `redis bus: ${was === "up" ? "lost" : "cannot reach"} Redis: ${reason}; reconnecting in the background (backoff up to ${
          Duration.format(Duration.millis(reconnectMaxMs))
        }), other channels are not affected`
      ).pipe(Effect.annotateLogs(where))
    })

  const stopped = Effect.gen(function*() {
    enter("stopped", yield* Clock.currentTimeMillis)
    yield* Metric.update(busUp, 0)
  })

  return { up, down, stopped }
}

const describe = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message : String(error)
}

/**
 * Run `session` (scoped: its connection closes when it ends) again and again until one returns
 * "stopped". Defects are logged with their cause; interruption (the daemon stopping) ends it.
 */
export const supervise = <E>(
  session: Effect.Effect<"stopped", E, Scope.Scope>,
  lifecycle: Lifecycle,
  stats: BusStats,
  reconnectMaxMs: number
): Effect.Effect<void> =>
  Effect.gen(function*() {
    let attempt = 0
    for (;;) {
      const exit = yield* Effect.exit(Effect.scoped(session))
      if (Exit.isSuccess(exit)) return yield* lifecycle.stopped
      if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
      if (Cause.hasDies(exit.cause)) yield* Effect.logError("redis bus: the read loop died; starting it again", exit.cause)
      stats.failures++
      // A session that got through starts the backoff over.
      attempt = stats.state === "up" ? 1 : attempt + 1
      yield* lifecycle.down(describe(exit.cause))
      yield* Effect.sleep(reconnectDelayMs(attempt, reconnectMaxMs))
    }
  })
