// The Checks service: every check of SWITCHBOARD_CHECKS_FILE in its own fiber on its own
// Schedule, each run under its timeout and a global concurrency limit, its result fed to the
// check's state machine, each change of state triaged. Pushed checks (POST /v1/checks/:name, the
// bus's `check-result`) go through the same machine; one that goes silent for 2 × expectEvery is
// failing. No check ever runs through the session (ADR-0103): the only way a result reaches the
// agent is an `immediate` triage. Reload keeps the running checks when the new file is bad.
import { Cause, Clock, Context, Effect, FiberMap, FiberSet, Layer, Metric, Option, type Redacted, Schedule, Schema, Semaphore } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Status } from "../core/Status.ts"
import { Digest } from "./Digest.ts"
import { describeTransition, formatSpan } from "./alertText.ts"
import type { Action, CheckSpec, HookSpec, Severity } from "./checkFile.ts"
import { ChecksFileInvalid, loadPlan } from "./loadPlan.ts"
import { checkDuration, checkRuns, checkState } from "./metrics.ts"
import { Probes } from "./Probes.ts"
import { clockTime } from "./quietHours.ts"
import { initialMachine, type Machine, type Result, step } from "./stateMachine.ts"
import { Triage } from "./Triage.ts"

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

export interface CheckView {
  readonly name: string
  readonly kind: string
  readonly state: "unknown" | "ok" | "failing" | "flapping"
  readonly since: string
  readonly lastRunAt: string | null
  readonly lastDetail: string | null
  readonly nextRunAt: string | null
  readonly severity: Severity
  readonly target: string
  readonly failures: number
  readonly runs: number
}

export interface ReloadSummary {
  readonly checks: number
  readonly hooks: number
  readonly rules: number
  readonly added: ReadonlyArray<string>
  readonly removed: ReadonlyArray<string>
  readonly changed: ReadonlyArray<string>
}

interface Entry {
  spec: CheckSpec
  machine: Machine
  lastRunAt: number | undefined
  lastDetail: string | undefined
  nextRunAt: number | undefined
  runs: number
  /** Last pushed result, or when the check was loaded (a pushed check's silence counts from there). */
  heardAt: number
  failure: { action: Action; severity: Severity } | undefined
  readonly lock: Semaphore.Semaphore
}

const STATE_VALUE = { unknown: -1, ok: 0, failing: 1 } as const
/** Spread the first runs of many checks over (at most) this much, so they do not all start at once. */
const MAX_STAGGER_MS = 10_000

const hash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 7) >>> 0

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

      const runOnce = (e: Entry) =>
        Effect.gen(function*() {
          const spec = e.spec
          const started = yield* Clock.currentTimeMillis
          e.nextRunAt = started + spec.everyMs
          const outcome = { value: "ok" }
          const result = yield* probes.run(spec.name, spec.probe).pipe(
            Effect.timeoutOption(spec.timeoutMs),
            Effect.map((r): Result => {
              if (Option.isSome(r)) return r.value
              outcome.value = "timeout"
              return { ok: false, detail: `no answer within ${formatSpan(spec.timeoutMs)}` }
            }),
            Effect.catchCause((cause) => {
              outcome.value = "crashed"
              return Effect.as(
                Effect.logError(`check ${spec.name} crashed`, cause),
                { ok: false, detail: `the check crashed: ${Cause.squash(cause)}` } satisfies Result
              )
            }),
            permits.withPermit
          )
          if (outcome.value === "ok" && !result.ok) outcome.value = "fail"
          const finished = yield* Clock.currentTimeMillis
          e.runs++
          e.lastRunAt = finished
          yield* Metric.update(checkDuration, (finished - started) / 1000)
          yield* Metric.update(Metric.withAttributes(checkRuns, { check: spec.name, outcome: outcome.value }), 1)
          yield* Effect.annotateCurrentSpan({ "switchboard.check.outcome": outcome.value, "switchboard.check.detail": result.detail })
          yield* apply(e, result)
        }).pipe(
          // A root span: a check run belongs to no request's trace.
          Effect.withSpan("check.run", { root: true, attributes: { "switchboard.check": e.spec.name, "switchboard.check.kind": e.spec.probe.kind } })
        )

      /** A pushed check: failing once nothing was heard for 2 × expectEvery, and again every expectEvery after. */
      const silenceWatch = (e: Entry, expectMs: number) =>
        Effect.gen(function*() {
          for (;;) {
            const now = yield* Clock.currentTimeMillis
            const deadline = e.heardAt + 2 * expectMs
            e.nextRunAt = deadline
            if (now < deadline) {
              yield* Effect.sleep(deadline - now)
              continue
            }
            e.runs++
            yield* Metric.update(Metric.withAttributes(checkRuns, { check: e.spec.name, outcome: "silent" }), 1)
            yield* apply(e, {
              ok: false,
              force: true,
              detail: `no result from ${e.spec.name} for ${formatSpan(now - e.heardAt)} (expected every ${formatSpan(expectMs)})`
            })
            yield* Effect.sleep(expectMs)
          }
        })

      const start = (e: Entry) => {
        const probe = e.spec.probe
        const body = probe.kind === "push"
          ? silenceWatch(e, probe.expectEveryMs)
          : Effect.andThen(
            Effect.sleep(hash(e.spec.name) % Math.min(e.spec.everyMs, MAX_STAGGER_MS)),
            runOnce(e).pipe(Effect.repeat(Schedule.fixed(e.spec.everyMs)))
          )
        return FiberMap.run(fibers, e.spec.name, body.pipe(Effect.asVoid, Effect.annotateLogs({ check: e.spec.name })))
      }

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
      }).pipe(Effect.withSpan("checks.reload"))

      const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
      const view = (e: Entry): CheckView => ({
        name: e.spec.name,
        kind: e.spec.probe.kind.startsWith("redis") ? "redis" : e.spec.probe.kind,
        state: e.machine.flapping ? "flapping" : e.machine.state,
        since: new Date(e.machine.since).toISOString(),
        lastRunAt: iso(e.lastRunAt),
        lastDetail: e.lastDetail ?? null,
        nextRunAt: iso(e.nextRunAt),
        severity: e.spec.severity,
        target: e.spec.target,
        failures: e.machine.failures,
        runs: e.runs
      })
      const list = Effect.sync(() => [...entries.values()].map(view))

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
          return view(e)
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
