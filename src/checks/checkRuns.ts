// How one check is driven: its state record, its schedule (first run spread over up to 10 s, then
// every `every`), one run under its timeout and the global concurrency limit (a hanging probe is a
// failed run, a crashing one too), and a pushed check's silence watch. The Checks service owns the
// records and feeds each result to the check's state machine (`apply`).
import { Cause, Clock, Effect, Metric, Option, Schedule, type Semaphore } from "effect"
import { formatSpan } from "./alertText.ts"
import type { Action, CheckSpec, Severity } from "./checkFile.ts"
import { checkDuration, checkRuns } from "./metrics.ts"
import type { Probes } from "./Probes.ts"
import type { Machine, Result } from "./stateMachine.ts"

export interface Entry {
  spec: CheckSpec
  machine: Machine
  lastRunAt: number | undefined
  lastDetail: string | undefined
  nextRunAt: number | undefined
  runs: number
  /** Last pushed result, or when the check was loaded (a pushed check's silence counts from there). */
  heardAt: number
  /** How the current failure was reported: its recovery is reported the same way. */
  failure: { action: Action; severity: Severity } | undefined
  readonly lock: Semaphore.Semaphore
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

export interface RunDeps {
  readonly probes: Probes["Service"]
  readonly permits: Semaphore.Semaphore
  readonly apply: (e: Entry, result: Result) => Effect.Effect<void>
}

/** Spread the first runs of many checks over (at most) this much, so they do not all start at once. */
const MAX_STAGGER_MS = 10_000

const hash = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 7) >>> 0

/** A bug past the probe (triage, delivery) is logged; the check's schedule goes on. */
const guarded = (e: Entry, effect: Effect.Effect<void>) =>
  effect.pipe(
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.failCause(cause)
        : Effect.logError(`check ${e.spec.name}: handling its result failed; it runs again on schedule`, cause)
    )
  )

const runOnce = (deps: RunDeps, e: Entry) =>
  Effect.gen(function*() {
    const spec = e.spec
    const started = yield* Clock.currentTimeMillis
    e.nextRunAt = started + spec.everyMs
    const outcome = { value: "ok" }
    const result = yield* deps.probes.run(spec.name, spec.probe).pipe(
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
      deps.permits.withPermit
    )
    if (outcome.value === "ok" && !result.ok) outcome.value = "fail"
    const finished = yield* Clock.currentTimeMillis
    e.runs++
    e.lastRunAt = finished
    yield* Metric.update(checkDuration, (finished - started) / 1000)
    yield* Metric.update(Metric.withAttributes(checkRuns, { check: spec.name, outcome: outcome.value }), 1)
    yield* Effect.annotateCurrentSpan({ "switchboard.check.outcome": outcome.value, "switchboard.check.detail": result.detail })
    yield* guarded(e, deps.apply(e, result))
  }).pipe(
    // A root span: a check run belongs to no request's trace.
    Effect.withSpan("check.run", { root: true, attributes: { "switchboard.check": e.spec.name, "switchboard.check.kind": e.spec.probe.kind } })
  )

/** A pushed check: failing once nothing was heard for 2 × expectEvery, and again every expectEvery after. */
const silenceWatch = (deps: RunDeps, e: Entry, expectMs: number) =>
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
      yield* guarded(e, deps.apply(e, {
        ok: false,
        force: true,
        detail: `no result from ${e.spec.name} for ${formatSpan(now - e.heardAt)} (expected every ${formatSpan(expectMs)})`
      }))
      yield* Effect.sleep(expectMs)
    }
  })

/** What the check's fiber runs, forever. */
export const checkLoop = (deps: RunDeps, e: Entry): Effect.Effect<void> => {
  const probe = e.spec.probe
  const body = probe.kind === "push"
    ? silenceWatch(deps, e, probe.expectEveryMs)
    : Effect.andThen(
      Effect.sleep(hash(e.spec.name) % Math.min(e.spec.everyMs, MAX_STAGGER_MS)),
      runOnce(deps, e).pipe(Effect.repeat(Schedule.fixed(e.spec.everyMs)))
    )
  return body.pipe(Effect.asVoid, Effect.annotateLogs({ check: e.spec.name }))
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

export const viewOf = (e: Entry): CheckView => ({
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
