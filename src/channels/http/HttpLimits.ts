// What HTTP clients hold open right now, against the caps: connections (counted from the server's
// own events) and long-polls (each `?wait=` request holds one slot while it waits; beyond the cap
// it is refused with 503 `too_many_waiters` at once). Shown in /status `http` and in /metrics.
import { Context, Effect, Layer, Metric } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { Status } from "../../core/Status.ts"
import { ApiError } from "./api.ts"
import { type HttpBudget, httpBudget, readFdLimit } from "./limits.ts"
import { httpConnections, httpRefused, httpWaiters } from "./metrics.ts"

export interface HttpLimitsStats {
  readonly connections: number
  readonly maxConnections: number
  readonly dropped: number
  readonly waiters: number
  readonly maxWaiters: number
  readonly refusedWaiters: number
}

export class HttpLimits extends Context.Service<HttpLimits, {
  readonly budget: HttpBudget
  /** Run a long-poll in a waiter slot, or fail with 503 too_many_waiters when none is free. */
  readonly waiting: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ApiError, R>
  /** The server's connection events (called from Node's callbacks). */
  readonly opened: () => void
  readonly closed: () => void
  readonly dropped: () => void
  readonly stats: Effect.Effect<HttpLimitsStats>
}>()("switchboard/HttpLimits") {
  static readonly make = (budget: HttpBudget) =>
    Effect.gen(function*() {
      const counts = { connections: 0, dropped: 0, waiters: 0, refusedWaiters: 0 }
      // Node's events arrive outside any fiber: metric updates run with this layer's services.
      const run = Effect.runSyncWith(yield* Effect.context<never>())
      const gauge = () => run(Metric.update(httpConnections, counts.connections))

      const waiting = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ApiError, R> =>
        Effect.suspend((): Effect.Effect<A, E | ApiError, R> => {
          if (counts.waiters >= budget.maxWaiters) {
            counts.refusedWaiters++
            return Metric.update(Metric.withAttributes(httpRefused, { reason: "too_many_waiters" }), 1).pipe(
              Effect.andThen(Effect.fail(
                new ApiError({
                  status: 503,
                  code: "too_many_waiters",
                  message: `${budget.maxWaiters} long-polls are already waiting; retry, or poll without wait`
                })
              ))
            )
          }
          counts.waiters++
          return Metric.update(httpWaiters, counts.waiters).pipe(
            Effect.andThen(effect),
            Effect.ensuring(Effect.suspend(() => {
              counts.waiters--
              return Metric.update(httpWaiters, counts.waiters)
            }))
          )
        })

      return HttpLimits.of({
        budget,
        waiting,
        opened: () => {
          counts.connections++
          gauge()
        },
        closed: () => {
          counts.connections--
          gauge()
        },
        dropped: () => {
          counts.dropped++
          run(Metric.update(Metric.withAttributes(httpRefused, { reason: "max_connections" }), 1))
        },
        stats: Effect.sync(() => ({
          connections: counts.connections,
          maxConnections: budget.maxConnections,
          dropped: counts.dropped,
          waiters: counts.waiters,
          maxWaiters: budget.maxWaiters,
          refusedWaiters: counts.refusedWaiters
        }))
      })
    })

  /** Caps from SWITCHBOARD_HTTP_MAX_*, lowered to fit the file descriptor limit; /status `http`. */
  static readonly layer = Layer.effect(
    HttpLimits,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const budget = httpBudget(readFdLimit(), config.httpLimits.maxConnections, config.httpLimits.maxWaiters)
      if (budget.lowered !== undefined) yield* Effect.logInfo(`HTTP limits lowered: ${budget.lowered}`)
      const limits = yield* HttpLimits.make(budget)
      yield* (yield* Status).contribute("http", limits.stats)
      return limits
    })
  )
}
