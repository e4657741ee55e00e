// Whether what the daemon writes to its state dir is reaching the disk. Every writer (conversation
// memory, the tripwire, daemon.json, the store) says after each write whether it worked; a kind of
// write whose last attempt failed makes /health warn and is listed in /status, until one succeeds.
// A full or read-only disk then shows within one write instead of only as ERROR lines.
import { Clock, Context, Effect, Layer, Metric } from "effect"
import { persistenceFailures } from "../domain/metrics.ts"

export interface PersistenceFault {
  /** What could not be written ("conversation", "tripwire", …). */
  readonly what: string
  /** ISO time of the first failure in a row. */
  readonly since: string
  readonly lastError: string
  /** Failures in a row. */
  readonly failures: number
}

export interface PersistenceReport {
  readonly ok: boolean
  readonly failing: ReadonlyArray<PersistenceFault>
  /** Failed writes since the start, of every kind. */
  readonly failedWrites: number
}

export class Persistence extends Context.Service<Persistence, {
  readonly failed: (what: string, error: string) => Effect.Effect<void>
  readonly succeeded: (what: string) => Effect.Effect<void>
  readonly report: Effect.Effect<PersistenceReport>
}>()("switchboard/Persistence") {
  static readonly make = Effect.sync(() => {
    const faults = new Map<string, { since: number; lastError: string; failures: number }>()
    const total = { failed: 0 }

    const failed = (what: string, error: string) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        total.failed++
        const fault = faults.get(what)
        if (fault === undefined) faults.set(what, { since: now, lastError: error, failures: 1 })
        else {
          fault.lastError = error
          fault.failures++
        }
        yield* Metric.update(Metric.withAttributes(persistenceFailures, { what }), 1)
      })

    const succeeded = (what: string) =>
      Effect.gen(function*() {
        if (!faults.has(what)) return
        faults.delete(what)
        yield* Effect.logInfo(`persistence: writing the ${what} works again`)
      })

    const report = Effect.sync((): PersistenceReport => ({
      ok: faults.size === 0,
      failing: [...faults].map(([what, f]) => ({
        what,
        since: new Date(f.since).toISOString(),
        lastError: f.lastError,
        failures: f.failures
      })),
      failedWrites: total.failed
    }))

    return Persistence.of({ failed, succeeded, report })
  })

  static readonly layer = Layer.effect(Persistence, Persistence.make)
}
