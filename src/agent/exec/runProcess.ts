// One job's process from start to end: in the sandbox, its own process group, a timeout, every
// process it started ended with it, and its output scrubbed of secrets before anyone reads it.
import { Duration, Effect, Option } from "effect"
import { execEnvironment } from "./argv.ts"
import { type ProcessGroup, startProcessGroup } from "./processGroup.ts"
import type { Sandbox } from "./sandbox.ts"
import { scrubSecrets } from "./scrub.ts"

export type JobState = "running" | "exited" | "timed-out" | "failed-to-start"

export interface RunResult {
  readonly state: JobState
  readonly exitCode: number | null
  readonly signal: string | null
  readonly output: string
}

export interface RunOptions {
  readonly timeout: Duration.Duration
  readonly outputCap: number
  /** Grace between SIGTERM and SIGKILL on timeout or shutdown. */
  readonly killGrace?: Duration.Duration | undefined
  /** Variables passed to programs besides the safe base set (SWITCHBOARD_EXEC_ENV). */
  readonly passEnv?: ReadonlyArray<string> | undefined
  readonly sandbox?: Sandbox | undefined
  /** Values scrubbed from the output. */
  readonly secrets?: ReadonlyArray<string> | undefined
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
export const runProcess = (argv: ReadonlyArray<string>, options: RunOptions): Effect.Effect<RunResult> => {
  const grace = options.killGrace ?? Duration.seconds(5)
  const scrub = (text: string) => scrubSecrets(text, options.secrets ?? [])
  return Effect.acquireUseRelease(
    Effect.sync(() =>
      startProcessGroup(options.sandbox?.wrap(argv) ?? argv, {
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
          return { state: "failed-to-start", exitCode: 127, signal: null, output: scrub(end.message) } satisfies RunResult
        }
        // Let the last output arrive; a grandchild that keeps the pipe open does not hold the job.
        yield* Effect.promise(() => group.closed).pipe(Effect.timeoutOption(DRAIN))
        return {
          state: timedOut ? "timed-out" : "exited",
          exitCode: end.code,
          signal: end.signal,
          output: scrub(group.output())
        } satisfies RunResult
      }),
    (group) => stopGroup(group, grace)
  )
}
