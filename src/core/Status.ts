// The gateway's state as one document (/status, `switchboard status`, `/status` in chats) and its
// health (/health). Core sections come from the core services; other services (heartbeat,
// channels, jobs) contribute their own section or health check for as long as they live.
import { Clock, Context, Effect, Layer, Metric, Scope } from "effect"
import { buildInfo, startTime } from "../domain/metrics.ts"
import { scopedEntry } from "../domain/scopedEntry.ts"
import { VERSION } from "../domain/version.ts"
import { Persistence, type PersistenceReport } from "../store/Persistence.ts"
import { judgeChannels } from "./channelHealth.ts"
import { Channels } from "./Channels.ts"
import { CommandQueue } from "./CommandQueue.ts"
import { Dispatcher } from "./Dispatcher.ts"
import { Router } from "./Router.ts"
import { Sessions } from "./Sessions.ts"
import { Store } from "../store/Store.ts"

export type HealthLevel = "pass" | "warn" | "fail"

export interface HealthCheck {
  readonly status: HealthLevel
  readonly detail?: string | undefined
}

export interface HealthDoc {
  readonly status: HealthLevel
  readonly checks: Readonly<Record<string, HealthCheck>>
}

export type StatusDoc = Readonly<Record<string, unknown>>

const worst = (levels: ReadonlyArray<HealthLevel>): HealthLevel =>
  levels.includes("fail") ? "fail" : levels.includes("warn") ? "warn" : "pass"

/** Warn while some kind of state could not be written: the daemon runs, but would forget it. */
const persistenceHealth = (report: PersistenceReport): HealthCheck =>
  report.ok ? { status: "pass" } : {
    status: "warn",
    detail: `not reaching the disk: ${report.failing.map((f) => `${f.what} (${f.lastError}, since ${f.since})`).join("; ")}`
  }

export class Status extends Context.Service<Status, {
  /** Add a top-level section to /status while the caller's scope lives. */
  readonly contribute: (section: string, read: Effect.Effect<unknown>) => Effect.Effect<void, never, Scope.Scope>
  /** Add a health check to /health while the caller's scope lives. */
  readonly contributeHealth: (name: string, check: Effect.Effect<HealthCheck>) => Effect.Effect<void, never, Scope.Scope>
  readonly snapshot: Effect.Effect<StatusDoc>
  readonly health: Effect.Effect<HealthDoc>
}>()("switchboard/Status") {
  static readonly layer = Layer.effect(
    Status,
    Effect.gen(function*() {
      const queue = yield* CommandQueue
      const dispatcher = yield* Dispatcher
      const router = yield* Router
      const sessions = yield* Sessions
      const registry = yield* Channels
      const persistence = yield* Persistence
      const store = yield* Store
      const startedAt = yield* Clock.currentTimeMillis
      yield* Metric.update(startTime, Math.floor(startedAt / 1000))
      yield* Metric.update(Metric.withAttributes(buildInfo, { version: VERSION, node: process.version }), 1)
      const sections = new Map<string, Effect.Effect<unknown>>()
      const checks = new Map<string, Effect.Effect<HealthCheck>>()

      const snapshot = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const active = yield* dispatcher.active
        const routerStats = yield* router.stats
        const extra: Record<string, unknown> = {}
        for (const [name, read] of sections) extra[name] = yield* read
        // Each channel's life as it reports it; a sender registered without a channel entry
        // (an embedder's, a test's) counts as up while it is registered.
        const channels: Record<string, unknown> = Object.fromEntries(
          routerStats.channels.map((c) => [c, { state: "up" }])
        )
        for (const c of yield* registry.list) {
          channels[c.name] = { state: c.state, since: c.since, lastError: c.lastError, restarts: c.restarts }
        }
        return {
          startedAt: new Date(startedAt).toISOString(),
          uptimeSeconds: Math.round((now - startedAt) / 1000),
          queue: yield* queue.stats,
          active: active === undefined ? null : {
            id: active.id,
            source: active.source,
            priority: active.priority,
            startedAt: new Date(active.startedAt).toISOString(),
            ageMs: now - active.startedAt
          },
          session: yield* Effect.flatMap(sessions.primary, (s) => s === undefined ? Effect.succeed(null) : s.info),
          sessions: yield* sessions.list,
          heartbeat: null,
          counters: {
            ...(yield* dispatcher.stats),
            delivered: routerStats.delivered,
            deliveryFailures: routerStats.failed,
            unknownTargets: routerStats.unknownTargets,
            sourceMismatches: routerStats.mismatches
          },
          outbox: routerStats.outbox,
          persistence: yield* persistence.report,
          store: yield* store.stats,
          ...extra,
          channels: { ...channels, ...(extra["channels"] as Record<string, unknown> | undefined) }
        }
      })

      const health = Effect.gen(function*() {
        const results: Record<string, HealthCheck> = { persistence: persistenceHealth(yield* persistence.report) }
        // Every enabled channel receiving (their own checks below say more about each).
        results["channels"] = judgeChannels(yield* registry.list, yield* Clock.currentTimeMillis)
        for (const [name, check] of checks) results[name] = yield* check
        return { status: worst(Object.values(results).map((r) => r.status)), checks: results }
      })

      return Status.of({
        contribute: (section, read) => scopedEntry(sections, section, read),
        contributeHealth: (name, check) => scopedEntry(checks, name, check),
        snapshot,
        health
      })
    })
  )
}
