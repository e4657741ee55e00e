// Background programs started by the agent's `exec` tool. argv only (no shell), only programs in
// SWITCHBOARD_EXEC_ALLOW, with a timeout and an output cap. A job runs in this service's scope,
// outside the turn that started it; on completion it enqueues the system event
// `exec finished (exit <code>): <tail>` for the session key captured when the job started, and
// asks the heartbeat to wake for that key.
import { randomUUID } from "node:crypto"
import { Clock, Context, Duration, Effect, Fiber, Layer, Metric, Schema, Scope } from "effect"
import { isAllowed } from "./argv.ts"
import { execJobs } from "../metrics.ts"
import { ExecApproval, type Verdict } from "./ExecApproval.ts"
import { prepareExec, resolveProgram } from "./execSetup.ts"
import { defaultRules, deniedArgument, type DenyRule, showRule } from "./policy.ts"
import { type JobState, runProcess, type RunOptions } from "./runProcess.ts"
import type { SandboxKind } from "./sandbox.ts"
import { CurrentRequest } from "../../core/CurrentRequest.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { HeartbeatWake } from "../../heartbeat/HeartbeatWake.ts"
import { Status } from "../../core/Status.ts"
import { SystemEvents } from "../../heartbeat/SystemEvents.ts"

export class ExecRefused extends Schema.TaggedError<ExecRefused>()("ExecRefused", {
  program: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `exec ${this.program}: ${this.reason}`
  }
}

export type { JobState }

export interface JobInfo {
  readonly id: string
  readonly argv: ReadonlyArray<string>
  /** Where the completion goes: the source of the request that started the job. */
  readonly sessionKey: string
  readonly requestId: string | undefined
  readonly state: JobState
  readonly exitCode: number | null
  readonly signal: string | null
  readonly startedAt: string
  readonly finishedAt: string | null
  readonly durationMs: number | null
  /** The end of the output (capped). */
  readonly tail: string | null
}

/** Characters of output put into the system event. */
const EVENT_TAIL_CHARS = 1500
/** Finished jobs kept for `jobs` / `/status`. */
const KEEP_FINISHED = 50

export interface ExecOptions extends RunOptions {
  readonly allow: ReadonlyArray<string>
  readonly maxJobs: number
  /** Argument rules (default: the built-in ones for git, make, npm, find). */
  readonly rules?: ReadonlyArray<DenyRule> | undefined
  /** Asked after the checks and before the job starts (default: no approval). */
  readonly approve?: ((argv: ReadonlyArray<string>, source: string) => Effect.Effect<Verdict>) | undefined
  /** How long approval waits, for the "no answer" result. */
  readonly approvalTimeout?: string | undefined
}

const refusalFor = (verdict: Exclude<Verdict, { _tag: "Approved" }>, source: string, timeout?: string) => {
  switch (verdict._tag) {
    case "Denied":
      return `denied: ${source} did not approve running it (answered "${verdict.answer}"); it did not run`
    case "NoAnswer":
      return `no answer: nobody in ${source} approved it${timeout ? ` within ${timeout}` : ""}; it did not run`
    case "Unavailable":
      return `not run: ${verdict.reason}`
  }
}

export const completionText = (job: { readonly state: JobState; readonly exitCode: number | null; readonly signal: string | null; readonly tail: string | null }, timeout: Duration.Duration) => {
  const code = job.exitCode ?? job.signal ?? "?"
  const note = job.state === "timed-out" ? `, timed out after ${Duration.format(timeout)}` : job.state === "failed-to-start" ? ", could not start" : ""
  const tail = (job.tail ?? "").trim()
  const shown = tail.length > EVENT_TAIL_CHARS ? `…${tail.slice(-EVENT_TAIL_CHARS)}` : tail
  return `exec finished (exit ${code}${note}): ${shown === "" ? "(no output)" : shown}`
}

export class ExecJobs extends Context.Service<ExecJobs, {
  /** Start argv in the background for the current request's source; returns at once. */
  readonly start: (argv: ReadonlyArray<string>) => Effect.Effect<JobInfo, ExecRefused>
  readonly list: Effect.Effect<ReadonlyArray<JobInfo>>
  /** Ends once the job has finished and its event is enqueued (tests, `jobs --wait`). */
  readonly await: (id: string) => Effect.Effect<JobInfo | undefined>
  /** Where jobs run: `bwrap`, `unshare` or `none`. */
  readonly sandbox: SandboxKind
}>()("switchboard/ExecJobs") {
  static readonly make = (options: ExecOptions) =>
    Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      // Jobs end in parallel at shutdown: each may wait out its kill grace, and one after the other
      // they would add up past a service manager's stop timeout.
      const scope = yield* Scope.fork(yield* Scope.Scope, "parallel")
      const jobs = new Map<string, { info: JobInfo; done: Effect.Effect<void> }>()

      const rules = options.rules ?? defaultRules()
      const finishedOldestFirst = () => [...jobs.values()].filter((j) => j.info.state !== "running")
      const running = () => [...jobs.values()].filter((j) => j.info.state === "running").length

      const start = Effect.fn("exec.start")(function*(argv: ReadonlyArray<string>) {
        const program = argv[0] ?? ""
        if (options.allow.length === 0) {
          return yield* new ExecRefused({ program, reason: "exec is off (SWITCHBOARD_EXEC_ALLOW is empty)" })
        }
        if (!isAllowed(options.allow, program)) {
          return yield* new ExecRefused({
            program,
            reason: `not an allowed program (allowed: ${options.allow.join(", ")})`
          })
        }
        const resolved = resolveProgram(program, process.env["PATH"])
        const denied = deniedArgument(rules, resolved === undefined ? [program] : [program, resolved], argv)
        if (denied !== undefined) {
          return yield* new ExecRefused({
            program,
            reason: `the argument ${JSON.stringify(denied.arg)} is refused (rule ${showRule(denied.rule)}: it can run ` +
              `other commands or change what runs; see SWITCHBOARD_EXEC_DENY)`
          })
        }
        if (running() >= options.maxJobs) {
          return yield* new ExecRefused({ program, reason: `${options.maxJobs} jobs are already running` })
        }
        // The session key is captured here, from the request that starts the job, and carried
        // explicitly: the completion must reach this chat whatever runs when it finishes.
        const current = yield* CurrentRequest
        if (current === undefined) {
          return yield* new ExecRefused({ program, reason: "exec needs a request to report back to" })
        }
        const sessionKey = current.source
        if (options.approve !== undefined) {
          const verdict = yield* options.approve(argv, sessionKey)
          yield* Effect.logInfo("exec approval").pipe(Effect.annotateLogs({ sessionKey, program, verdict: verdict._tag }))
          if (verdict._tag !== "Approved") {
            return yield* new ExecRefused({ program, reason: refusalFor(verdict, sessionKey, options.approvalTimeout) })
          }
          // Time passed while the chat decided: other jobs may have started.
          if (running() >= options.maxJobs) {
            return yield* new ExecRefused({ program, reason: `${options.maxJobs} jobs are already running` })
          }
        }
        const startedAt = yield* Clock.currentTimeMillis
        const id = `job-${randomUUID().slice(0, 8)}`
        const info: JobInfo = {
          id,
          argv,
          sessionKey,
          requestId: current.id,
          state: "running",
          exitCode: null,
          signal: null,
          startedAt: new Date(startedAt).toISOString(),
          finishedAt: null,
          durationMs: null,
          tail: null
        }
        yield* Effect.annotateCurrentSpan({ "switchboard.job_id": id, "switchboard.source": sessionKey, "switchboard.request_id": current.id })

        const run = Effect.gen(function*() {
          const result = resolved === undefined
            ? { state: "failed-to-start", exitCode: 127, signal: null, output: `${program}: not found (PATH)` } as const
            : yield* runProcess(argv, options)
          const finishedAt = yield* Clock.currentTimeMillis
          const done: JobInfo = {
            ...info,
            state: result.state,
            exitCode: result.exitCode,
            signal: result.signal,
            finishedAt: new Date(finishedAt).toISOString(),
            durationMs: finishedAt - startedAt,
            tail: result.output
          }
          const entry = jobs.get(id)
          if (entry) entry.info = done
          for (const old of finishedOldestFirst().slice(0, -KEEP_FINISHED)) jobs.delete(old.info.id)
          yield* Metric.update(Metric.withAttributes(execJobs, { outcome: result.state }), 1)
          yield* Effect.logInfo("exec job finished").pipe(
            Effect.annotateLogs({ jobId: id, sessionKey, exitCode: String(result.exitCode), state: result.state })
          )
          const queued = yield* events.enqueue(sessionKey, completionText(done, options.timeout), { contextKey: `exec:${id}` }).pipe(
            Effect.as(true),
            // The result stays readable in GET /v1/jobs and `switchboard jobs`.
            Effect.catchTag("SystemEventsFull", (e) =>
              Effect.logError(`exec completion not relayed: ${e.message}`).pipe(Effect.as(false))
            )
          )
          if (queued) yield* wake.request({ reason: "exec-event", sessionKey })
        }).pipe(
          Effect.withSpan("exec.job", {
            attributes: { "switchboard.job_id": id, "switchboard.source": sessionKey, "switchboard.program": program }
          }),
          Effect.annotateLogs({ jobId: id, sessionKey })
        )
        // Forked into the service's scope: the job outlives the turn, and ends with the daemon.
        const fiber = yield* Effect.forkIn(run, scope)
        jobs.set(id, { info, done: Effect.asVoid(Fiber.await(fiber)) })
        yield* Metric.update(Metric.withAttributes(execJobs, { outcome: "started" }), 1)
        yield* Effect.logInfo("exec job started").pipe(Effect.annotateLogs({ jobId: id, sessionKey, program }))
        return info
      })

      const list = Effect.sync(() => [...jobs.values()].map((j) => j.info))
      const awaitJob = (id: string) =>
        Effect.suspend(() => {
          const entry = jobs.get(id)
          return entry === undefined ? Effect.succeed(undefined) : Effect.as(entry.done, entry).pipe(Effect.map((e) => e.info))
        })

      return ExecJobs.of({ start, list, await: awaitJob, sandbox: options.sandbox?.kind ?? "none" })
    })

  /**
   * From `SWITCHBOARD_EXEC_*`, checked at start (launchers, rules, sandbox); needs SystemEvents,
   * HeartbeatWake and ExecApproval.
   */
  static readonly layer = Layer.effect(
    ExecJobs,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const setup = yield* prepareExec(config)
      const approval = yield* ExecApproval
      return yield* ExecJobs.make({
        allow: config.exec.allow,
        timeout: config.exec.timeout,
        outputCap: config.exec.outputCap,
        maxJobs: config.exec.maxJobs,
        passEnv: config.exec.passEnv,
        rules: setup.rules,
        sandbox: setup.sandbox,
        secrets: setup.secrets,
        approve: approval.decide,
        approvalTimeout: Duration.format(config.model.askTimeout)
      })
    })
  )

  /** Jobs in /status (`jobs` section) while this layer lives. Compose it where Status exists. */
  static readonly status = Layer.effectDiscard(
    Effect.gen(function*() {
      const status = yield* Status
      const jobs = yield* ExecJobs
      yield* status.contribute(
        "jobs",
        Effect.map(jobs.list, (all) => ({
          sandbox: jobs.sandbox,
          running: all.filter((j) => j.state === "running").length,
          recent: all.slice(-10).map((j) => ({
            id: j.id,
            argv: j.argv,
            sessionKey: j.sessionKey,
            state: j.state,
            exitCode: j.exitCode,
            startedAt: j.startedAt,
            finishedAt: j.finishedAt
          }))
        }))
      )
    })
  )
}
