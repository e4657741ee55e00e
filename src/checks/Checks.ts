// The Checks service: every check of SWITCHBOARD_CHECKS_FILE in its own fiber on its own
// Schedule, each run under its timeout and a global concurrency limit, its result fed to the
// check's state machine, each change of state triaged. Pushed checks (POST /v1/checks/:name, the
// bus's `check-result`) go through the same machine; one that goes silent for 2 × expectEvery is
// failing. No check ever runs through the session (ADR-0103): the only way a result reaches the
// agent is an `immediate` triage. Reload keeps the running checks when the new file is bad.
import { Clock, Context, Effect, FiberMap, FiberSet, Layer, Metric, Option, type Redacted, Schema, Semaphore } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Status } from "../core/Status.ts"
import { type CheckView, checkLoop, type Entry, type RunDeps, viewOf } from "./checkRuns.ts"
import { Digest } from "./Digest.ts"
import { describeTransition } from "./alertText.ts"
import type { CheckSpec, HookSpec, Severity } from "./checkFile.ts"
import { ChecksFileInvalid, loadPlan } from "./loadPlan.ts"
import { checkRuns, checkState } from "./metrics.ts"
import { Probes } from "./Probes.ts"
import { clockTime } from "./quietHours.ts"
import { initialMachine, type Result, step } from "./stateMachine.ts"
import { Triage } from "./Triage.ts"
import { Receivers } from "../core/Receivers.ts"
import { supervised } from "../core/supervised.ts"

export type { CheckView }

export class UnknownCheck extends Schema.TaggedError<UnknownCheck>()("UnknownCheck", {
  name: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `check ${this.name}: ${this.reason}`
  }
}

export interface PushedResult {
  readonly status: "ok" | "fail"
  readonly detail?: string | undefined
  readonly severity?: Severity | undefined
}

export interface ReloadSummary {
  readonly checks: number
  readonly hooks: number
  readonly rules: number
  readonly added: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
}

const STATE_VALUE = { unknown: -1, ok: 0, failing: 1 } as const
export class Checks extends Context.Service<Checks, {
  /** A pushed result for a `push` check (HTTP route, the Redis bus's `check-result` entries). */
  readonly report: (name: string, result: PushedResult) => Effect.Effect<CheckView, UnknownCheck>
  /** Re-read the checks file; a bad file keeps everything running as it was and says why. */
  readonly reload: Effect.Effect<ReloadSummary, ChecksFileInvalid>
  readonly list: Effect.Effect<ReadonlyArray<CheckView>>
  readonly hook: (name: string) => Effect.Effect<{ readonly spec: HookSpec; readonly secret: Redacted.Redacted<string> } | undefined>
}>()("switchboard/Checks") {
  static readonly layer = Layer.effect(
    Checks,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const triage = yield* Triage
      const probes = yield* Probes
      const status = yield* Status
      const digest = yield* Digest
      const settings = config.checks
      const redisConfigured = Option.isSome(config.redis.url)
      const time = clockTime(settings.timeZone)
      const permits = yield* Semaphore.make(settings.concurrency)
      const reloadLock = yield* Semaphore.make(1)
      const fibers = yield* FiberMap.make<string>()
      const entries = new Map<string, Entry>()
      const loaded = yield* loadPlan(settings, redisConfigured)
      const state = {
        hooks: new Map(loaded.plan.hooks.map((h) => [h.name, h])),
        secrets: loaded.secrets,
        rules: loaded.plan.rules.length,
        loadedAt: yield* Clock.currentTimeMillis,
        lastReloadError: undefined as string | undefined
      }
      yield* triage.setRules(loaded.plan.rules)

      const gauge = (e: Entry) =>
        Metric.update(
          Metric.withAttributes(checkState, { check: e.spec.name }),
          e.machine.flapping ? 2 : STATE_VALUE[e.machine.state]
        )

      /** Feed one result to the check's machine and triage what changed, in order, one result at a time. */
      const apply = (e: Entry, result: Result & { readonly severity?: Severity | undefined }) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const { machine, transitions } = step(e.machine, result, now, e.spec)
          e.machine = machine
          e.lastDetail = result.detail
          yield* gauge(e)
          for (const t of transitions) {
            const severity = t.event === "recovered" ? e.failure?.severity ?? e.spec.severity : result.severity ?? e.spec.severity
            const item = {
              kind: "check",
              name: e.spec.name,
              source: `check:${e.spec.name}`,
              severity,
              event: t.event,
              target: e.spec.target,
              text: describeTransition(e.spec.name, t, time),
              at: now
            } as const
            const action = yield* triage.submit(
              item,
              t.route.to === "digest"
                ? { digestBecause: t.route.why }
                : t.event === "recovered" ? { follows: e.failure?.action } : {}
            )
            if (t.event === "failing" || t.event === "flapping") e.failure = { action, severity }
            if (t.event === "recovered") e.failure = undefined
          }
        }).pipe(e.lock.withPermit)

      const deps: RunDeps = { probes, permits, apply }
      // In a cluster each check runs on one daemon at a time (a Singleton), not once per daemon.
      const receivers = yield* Receivers.orLocal
      const start = (e: Entry) =>
        FiberMap.remove(fibers, e.spec.name).pipe(Effect.andThen(FiberMap.run(
          fibers,
          e.spec.name,
          receivers.run(`check ${e.spec.name}`, checkLoop(deps, e).pipe(supervised({ name: `check ${e.spec.name}` }))).pipe(
            Effect.andThen(Effect.never),
            Effect.scoped
          )
        )))

      const add = (spec: CheckSpec, now: number, previous?: Entry) =>
        Effect.gen(function*() {
          const e: Entry = previous ?? {
            spec,
            machine: initialMachine(now),
            lastRunAt: undefined,
            lastDetail: undefined,
            nextRunAt: undefined,
            runs: 0,
            heardAt: now,
            failure: undefined,
            lock: yield* Semaphore.make(1)
          }
          e.spec = spec
          entries.set(spec.name, e)
          yield* Metric.update(Metric.withAttributes(checkRuns, { check: spec.name, outcome: "fail" }), 0)
          yield* gauge(e)
          yield* start(e)
        })

      for (const spec of loaded.plan.checks) yield* add(spec, state.loadedAt)

      const reload = Effect.gen(function*() {
        const next = yield* loadPlan(settings, redisConfigured).pipe(
          Effect.tapError((e) =>
            Effect.sync(() => void (state.lastReloadError = e.reason)).pipe(
              Effect.andThen(Effect.logError(`checks not reloaded, the running checks stay: ${e.message}`))
            )
          )
        )
        const now = yield* Clock.currentTimeMillis
        const wanted = new Map(next.plan.checks.map((c) => [c.name, c]))
        const removed = [...entries.keys()].filter((n) => !wanted.has(n))
        const added: Array<string> = []
        const changed: Array<string> = []
        for (const name of removed) {
          yield* FiberMap.remove(fibers, name)
          entries.delete(name)
          yield* Metric.update(Metric.withAttributes(checkState, { check: name }), -1)
        }
        for (const spec of next.plan.checks) {
          const existing = entries.get(spec.name)
          if (existing === undefined) added.push(spec.name)
          else if (JSON.stringify(existing.spec) === JSON.stringify(spec)) continue
          else changed.push(spec.name)
          // A changed check keeps its state (a failing check stays failing: no second alert).
          yield* add(spec, now, existing)
        }
        state.hooks = new Map(next.plan.hooks.map((h) => [h.name, h]))
        state.secrets = next.secrets
        state.rules = next.plan.rules.length
        state.loadedAt = now
        state.lastReloadError = undefined
        yield* triage.setRules(next.plan.rules)
        const summary = { checks: entries.size, hooks: state.hooks.size, rules: state.rules, added, removed, changed }
        yield* Effect.logInfo("checks reloaded").pipe(Effect.annotateLogs({ ...summary }))
        return summary
      }).pipe(reloadLock.withPermit, Effect.withSpan("checks.reload"))

      const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
      const list = Effect.sync(() => [...entries.values()].map(viewOf))

      const report = (name: string, pushed: PushedResult) =>
        Effect.gen(function*() {
          const e = entries.get(name)
          if (e === undefined) return yield* new UnknownCheck({ name, reason: "no such check in SWITCHBOARD_CHECKS_FILE" })
          if (e.spec.probe.kind !== "push") {
            return yield* new UnknownCheck({ name, reason: `it is a ${e.spec.probe.kind} check that switchboard runs itself, not kind "push"` })
          }
          const now = yield* Clock.currentTimeMillis
          e.heardAt = now
          e.runs++
          e.lastRunAt = now
          yield* Metric.update(Metric.withAttributes(checkRuns, { check: name, outcome: pushed.status }), 1)
          // The silence watch wakes at the old deadline, sees this result and waits again.
          if (e.spec.probe.kind === "push") e.nextRunAt = now + 2 * e.spec.probe.expectEveryMs
          yield* apply(e, { ok: pushed.status === "ok", detail: pushed.detail ?? pushed.status, severity: pushed.severity })
          return viewOf(e)
        }).pipe(Effect.withSpan("check.report", { attributes: { "switchboard.check": name } }))

      yield* status.contribute(
        "checks",
        Effect.gen(function*() {
          return {
            file: Option.getOrNull(settings.file),
            loadedAt: iso(state.loadedAt),
            lastReloadError: state.lastReloadError ?? null,
            concurrency: settings.concurrency,
            checks: yield* list,
            hooks: [...state.hooks.keys()],
            rules: state.rules,
            quietHours: Option.getOrNull(settings.quietHours),
            timeZone: settings.timeZone,
            triage: yield* triage.stats,
            digest: yield* digest.stats
          }
        })
      )

      // Faults show: a bad file at reload (the old checks still run) and a check whose fiber is gone.
      yield* status.contributeHealth(
        "checks",
        Effect.gen(function*() {
          const running = yield* FiberMap.size(fibers)
          if (running < entries.size) {
            return { status: "warn" as const, detail: `${entries.size - running} check(s) not running; see the log` }
          }
          if (state.lastReloadError !== undefined) {
            return { status: "warn" as const, detail: `the checks file was not reloaded (the running checks stay): ${state.lastReloadError}` }
          }
          return { status: "pass" as const, detail: `${entries.size} check(s) running` }
        })
      )

      return Checks.of({
        report,
        reload,
        list,
        hook: (name) =>
          Effect.sync(() => {
            const spec = state.hooks.get(name)
            const secret = state.secrets.get(name)
            return spec === undefined || secret === undefined ? undefined : { spec, secret }
          })
      })
    })
  )

  /** SIGHUP reloads the checks file too (like POST /v1/admin/reload). For the daemon only. */
  static readonly sighup = Layer.effectDiscard(
    Effect.gen(function*() {
      const checks = yield* Checks
      const run = yield* FiberSet.makeRuntime<never>()
      const onHup = () => {
        run(Effect.ignore(checks.reload)) // a bad file is logged by reload, with the reason
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => process.on("SIGHUP", onHup)),
        () => Effect.sync(() => process.off("SIGHUP", onHup))
      )
    })
  )
}
