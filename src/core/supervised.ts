// Background fibers that must not die without a word: a receive loop, the dispatcher's loop, a
// scheduler. Run under `supervised`, a fiber that fails or dies is logged with its cause and started
// again after a capped exponential backoff (1 s, 2 s, 4 s, … at most `maxDelay`; a run that lasted
// `resetAfter` starts the backoff over). For a channel, its entry in Channels is told: `failing`
// (so /health shows it) while it waits, `restarting` (counted in /status) when it starts again.
import { Cause, Clock, Duration, Effect, Exit, Metric } from "effect"
import { fiberRestarts } from "../domain/metrics.ts"
import type { ChannelLifeHandle } from "./Channels.ts"

export interface Supervision {
  /** Names the fiber in the log and in `switchboard_fiber_restarts_total{fiber}`. */
  readonly name: string
  /** The channel this fiber receives for, if any. */
  readonly life?: ChannelLifeHandle | undefined
  readonly initialDelay?: Duration.Input
  readonly maxDelay?: Duration.Input
  readonly resetAfter?: Duration.Input
}

/** The wait before restart number `failures` (1-based): doubling from `initialMs`, capped. Pure. */
export const restartDelayMs = (failures: number, initialMs: number, maxMs: number) =>
  Math.min(maxMs, initialMs * 2 ** Math.min(30, Math.max(0, failures - 1)))

/** What went wrong, in one line (the full cause goes to the log). */
export const describeCause = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  if (error instanceof Error) return error.message === "" ? error.name : error.message
  return String(error)
}

/**
 * `effect`, started again whenever it fails or dies. It ends when `effect` succeeds (a loop that
 * finished its work) or is interrupted (the daemon stopping).
 */
export const supervised = (options: Supervision) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, never, R> =>
  Effect.gen(function*() {
    const initialMs = Duration.toMillis(Duration.fromInputUnsafe(options.initialDelay ?? "1 second"))
    const maxMs = Duration.toMillis(Duration.fromInputUnsafe(options.maxDelay ?? "30 seconds"))
    const resetMs = Duration.toMillis(Duration.fromInputUnsafe(options.resetAfter ?? "1 minute"))
    const restarts = Metric.withAttributes(fiberRestarts, { fiber: options.name })
    yield* Metric.update(restarts, 0)
    let failures = 0
    for (;;) {
      const startedAt = yield* Clock.currentTimeMillis
      const exit = yield* Effect.exit(effect)
      if (Exit.isSuccess(exit)) return exit.value
      if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
      const ranMs = (yield* Clock.currentTimeMillis) - startedAt
      failures = ranMs >= resetMs ? 1 : failures + 1
      const delayMs = restartDelayMs(failures, initialMs, maxMs)
      const reason = describeCause(exit.cause)
      yield* Effect.logError(
        `${options.name} stopped: ${reason}; starting it again in ${Duration.format(Duration.millis(delayMs))}`,
        exit.cause
      ).pipe(Effect.annotateLogs({ fiber: options.name, failures }))
      if (options.life !== undefined) yield* options.life.failing(`${options.name} crashed: ${reason}`)
      yield* Effect.sleep(Duration.millis(delayMs))
      yield* Metric.update(restarts, 1)
      if (options.life !== undefined) yield* options.life.restarting(`${options.name} crashed: ${reason}`)
    }
  })
