// Background exec jobs as the machine's owner sees them: a timeout ends everything the program
// started, shutdown leaves no program running and ends them all together, and a program never sees
// the daemon's secrets. Each case once failed; its comment says how.
import { execFileSync } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Option, Scope } from "effect"
import { ExecJobs } from "../../src/agent/exec/ExecJobs.ts"
import { withCurrentRequest } from "../../src/core/CurrentRequest.ts"
import type { Inbound } from "../../src/domain/model.ts"
import { recordingHeartbeat, type Recorded } from "../support/agentHarness.ts"

const request = (source: string): Inbound => ({
  id: `r-${source}`,
  source,
  text: "run it",
  priority: "human",
  receivedAt: Date.now()
})

/** Pids of live processes whose command line contains `marker` (ours only). */
const pidsWith = (marker: string): Array<number> => {
  try {
    return execFileSync("pgrep", ["-f", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number)
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}
const killAll = (marker: string) => {
  for (const pid of pidsWith(marker)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

/** A file the job's shell writes once its trap is installed. */
const readyFile = (marker: string, i: number) => join(tmpdir(), `switchboard-trap-${marker}-${i}`)

/** Wait until every shell has said its trap is installed (fails loudly after 10 s, never falls through). */
const trapsInstalled = (files: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if (files.every((f) => existsSync(f))) {
        for (const f of files) rmSync(f, { force: true })
        return
      }
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.die(new Error(`the shells never installed their traps: ${files.filter((f) => !existsSync(f)).join(", ")}`))
  })

const execJobs = (options: Partial<Parameters<typeof ExecJobs.make>[0]> = {}) =>
  Effect.gen(function*() {
    const recorded: Recorded = { events: [], wakes: [] }
    const scope = yield* Scope.make()
    const jobs = yield* ExecJobs.make({
      allow: ["sh"],
      timeout: Duration.millis(300),
      outputCap: 65536,
      maxJobs: 4,
      ...options
    }).pipe(Effect.provide(recordingHeartbeat(recorded)), Scope.provide(scope))
    return { jobs, recorded, scope }
  })

describe("exec jobs end with everything they started", () => {
  // The timeout once killed only the direct child, and a job ends when every holder of its stdout pipe
  // is gone. A program that starts children of its own (sh, make, npm, git hooks, test runners) left
  // them running with the pipe open: the job stayed "running" long past SWITCHBOARD_EXEC_TIMEOUT, kept
  // a SWITCHBOARD_EXEC_MAX_JOBS slot, and the grandchildren lived on.
  it.live("exec timeout ends a program that started children of its own (the job finishes, no orphans)", () => {
    const marker = `7.${process.pid}1`
    return Effect.gen(function*() {
      const { jobs, scope } = yield* execJobs({ timeout: Duration.millis(300), killGrace: Duration.millis(200) })
      const job = yield* jobs.start(["sh", "-c", `sleep ${marker}; echo late`]).pipe(
        withCurrentRequest(request("http:alice"))
      )
      // Timeout 300 ms + kill grace 200 ms: two seconds is ample for the job to be over.
      const done = yield* jobs.await(job.id).pipe(Effect.timeoutOption("2 seconds"))
      const orphans = pidsWith(`sleep ${marker}`)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Option.isSome(done), "the timed-out job is still 'running' 2 s after a 300 ms timeout")
      assert.deepStrictEqual(orphans, [], "the program's child outlived the job's timeout")
    }).pipe(Effect.ensuring(Effect.sync(() => killAll(`sleep ${marker}`))))
  }, 15_000)

  // Shutdown (closing the ExecJobs scope) once sent SIGTERM, armed SIGKILL on an unref'd timer and
  // returned at once: the daemon exited before the timer fired, and a program that ignores or handles
  // SIGTERM slowly was left running, orphaned.
  it.live("closing ExecJobs (daemon shutdown) does not return while a started program is still alive", () => {
    const marker = `8.${process.pid}2`
    return Effect.gen(function*() {
      const { jobs, scope } = yield* execJobs({ timeout: Duration.minutes(1) })
      const ready = readyFile(marker, 0)
      yield* jobs.start(["sh", "-c", `trap '' TERM; : > ${ready}; sleep ${marker}`]).pipe(withCurrentRequest(request("http:alice")))
      yield* trapsInstalled([ready]) // the signal, not the timing, is under test
      yield* Scope.close(scope, Exit.void)
      const alive = pidsWith(marker)
      assert.deepStrictEqual(alive, [], "a started program is still running after ExecJobs shut down")
    }).pipe(Effect.ensuring(Effect.sync(() => killAll(marker))))
  }, 15_000)

  // Jobs were once interrupted one after the other at shutdown, each waiting out its kill grace: four
  // programs that ignore SIGTERM took four graces, past a service manager's stop timeout.
  it.live("shutdown ends all running programs together, in about one kill grace", () => {
    const marker = `9.${process.pid}3`
    return Effect.gen(function*() {
      const { jobs, scope } = yield* execJobs({ timeout: Duration.minutes(1), killGrace: Duration.seconds(1) })
      const ready = [0, 1, 2, 3].map((i) => readyFile(marker, i))
      for (const file of ready) {
        yield* jobs.start(["sh", "-c", `trap '' TERM; : > ${file}; sleep ${marker}`]).pipe(withCurrentRequest(request("http:alice")))
      }
      yield* trapsInstalled(ready)
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const took = Date.now() - started
      assert.deepStrictEqual(pidsWith(marker), [], "a program is still running after shutdown")
      assert.isBelow(took, 3_000, `stopping 4 jobs took ${took} ms: one kill grace after another`)
    }).pipe(Effect.ensuring(Effect.sync(() => killAll(marker))))
  }, 20_000)
})

describe("exec jobs and secrets", () => {
  // A child once got the daemon's whole environment, secrets included (OPENAI_API_KEY,
  // TELEGRAM_BOT_TOKEN, SWITCHBOARD_API_TOKEN, …). Any allowed program that prints its environment
  // (`npm run env`, `printenv`, a script dumping its env) put the key into the completion event, which
  // goes to the model provider, the chat, and GET /v1/jobs (`tail`).
  it.live("an exec'd program does not see the daemon's secrets in its environment", () => {
    const secret = `sk-test-${process.pid}-do-not-leak`
    const saved = process.env["OPENAI_API_KEY"]
    return Effect.gen(function*() {
      process.env["OPENAI_API_KEY"] = secret // what the daemon's own environment holds
      const { jobs, recorded, scope } = yield* execJobs({ allow: ["printenv"], timeout: Duration.seconds(5) })
      const job = yield* jobs.start(["printenv", "OPENAI_API_KEY"]).pipe(withCurrentRequest(request("http:alice")))
      const done = yield* jobs.await(job.id)
      yield* Scope.close(scope, Exit.void)
      assert.notInclude(done?.tail ?? "", secret, "the API key is in the job's output (GET /v1/jobs)")
      assert.notInclude(recorded.events.map((e) => e.text).join("\n"), secret, "the API key is in the system event")
    }).pipe(Effect.ensuring(Effect.sync(() => {
      if (saved === undefined) delete process.env["OPENAI_API_KEY"]
      else process.env["OPENAI_API_KEY"] = saved
    })))
  }, 15_000)
})
