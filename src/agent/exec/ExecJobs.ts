// Background programs started by the agent's `exec` tool. argv only (no shell), only programs in
// SWITCHBOARD_EXEC_ALLOW, with a timeout and an output cap. A job runs in this service's scope,
// outside the turn that started it; on completion it enqueues the system event
// `exec finished (exit <code>): <tail>` for the session key captured when the job started, and
// asks the heartbeat to wake for that key.
import { randomUUID } from "node:crypto"
import { Clock, Context, Duration, Effect, Fiber, Layer, Metric, Option, Schema, Scope } from "effect"
import { execEnvironment, isAllowed } from "./argv.ts"
import { execJobs } from "../metrics.ts"
import { type ProcessGroup, startProcessGroup } from "./processGroup.ts"
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

export type JobState = "running" | "exited" | "timed-out" | "failed-to-start"

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

export interface ExecOptions {
  readonly allow: ReadonlyArray<string>
  readonly timeout: Duration.Duration
  readonly outputCap: number
  readonly maxJobs: number
  /** Grace between SIGTERM and SIGKILL on timeout or shutdown. */
  readonly killGrace?: Duration.Duration | undefined
  /** Variables passed to programs besides the safe base set (SWITCHBOARD_EXEC_ENV). */
  readonly passEnv?: ReadonlyArray<string> | undefined
}

interface RunResult {
  readonly state: JobState
  readonly exitCode: number | null
  readonly signal: string | null
  readonly output: string
}

/** Output still in the pipes when the program exits is read for at most this long. */
const DRAIN = Duration.millis(200)
/** How often a stopping group is checked for survivors. */
const POLL = Duration.millis(25)

const waitGone = (group: ProcessGroup) =>
  Effect.gen(function*() {
    while (group.alive()) yield* Effect.sleep(POLL)
  })

/**
 * End the whole group: SIGTERM, up to `grace` for it to go, then SIGKILL. Returns only when the
 * group is gone (or, for a zombie nobody reaps, after one more second), so a daemon that is
 * shutting down does not exit with a program of the agent's still running.
 */
const stopGroup = (group: ProcessGroup, grace: Duration.Duration) =>
  Effect.gen(function*() {
    if (!group.alive()) return
    group.signal("SIGTERM")
    const ended = yield* waitGone(group).pipe(Effect.timeoutOption(grace))
    if (Option.isSome(ended)) return
    group.signal("SIGKILL")
    yield* waitGone(group).pipe(Effect.timeoutOption(Duration.seconds(1)))
  })

/**
 * Run argv to completion in its own process group. A timeout or an interruption (shutdown) ends
 * the program and everything it started; when the program exits by itself, children it left
 * behind are ended too: a job is over when its result is reported.
 */
const runProcess = (argv: ReadonlyArray<string>, options: ExecOptions): Effect.Effect<RunResult> => {
  const grace = options.killGrace ?? Duration.seconds(5)
  return Effect.acquireUseRelease(
    Effect.sync(() =>
      startProcessGroup(argv, {
        env: execEnvironment(process.env, options.passEnv ?? []),
        outputCap: options.outputCap
      })
    ),
    (group) =>
      Effect.gen(function*() {
        const exited = Effect.promise(() => group.exited)
        const first = yield* exited.pipe(Effect.timeoutOption(options.timeout))
        const timedOut = Option.isNone(first)
        if (timedOut) yield* stopGroup(group, grace)
        const end = Option.isSome(first) ? first.value : yield* exited
        if (end._tag === "SpawnFailed") {
          return { state: "failed-to-start", exitCode: 127, signal: null, output: end.message } satisfies RunResult
        }
        // Let the last output arrive; a grandchild that keeps the pipe open does not hold the job.
        yield* Effect.promise(() => group.closed).pipe(Effect.timeoutOption(DRAIN))
        return {
          state: timedOut ? "timed-out" : "exited",
          exitCode: end.code,
          signal: end.signal,
          output: group.output()
        } satisfies RunResult
      }),
    (group) => stopGroup(group, grace)
  )
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
}>()("switchboard/ExecJobs") {
  static readonly make = (options: ExecOptions) =>
    Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      // Jobs end in parallel at shutdown: each may wait out its kill grace, and one after the other
      // they would add up past a service manager's stop timeout.
      const scope = yield* Scope.fork(yield* Scope.Scope, "parallel")
      const jobs = new Map<string, { info: JobInfo; done: Effect.Effect<void> }>()

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
          const result = yield* runProcess(argv, options)
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

      return ExecJobs.of({ start, list, await: awaitJob })
    })

  /** From `SWITCHBOARD_EXEC_*`; needs SystemEvents and HeartbeatWake. */
  static readonly layer = Layer.effect(
    ExecJobs,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      return yield* ExecJobs.make({
        allow: config.exec.allow,
        timeout: config.exec.timeout,
        outputCap: config.exec.outputCap,
        maxJobs: config.exec.maxJobs,
        passEnv: config.exec.passEnv
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
