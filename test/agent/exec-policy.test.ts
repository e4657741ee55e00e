// The allowlist is more than program names: shells, launchers and interpreters are refused at
// start unless forced (allowing one allows every program), and the programs people list most
// refuse the arguments that run other commands (`git -c alias.x='!sh'`, `find -exec`, `make
// --eval`). On the built daemon (start-up) and on ExecJobs (each job).
import { mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Scope } from "effect"
import { ExecJobs } from "../../src/agent/exec/ExecJobs.ts"
import { prepareExec } from "../../src/agent/exec/execSetup.ts"
import { ConfigProvider } from "effect"
import { ConfigSchema, type GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { withCurrentRequest } from "../../src/core/CurrentRequest.ts"
import type { Inbound } from "../../src/domain/model.ts"
import { recordingHeartbeat, type Recorded } from "../support/agentHarness.ts"
import { runDaemonToExit, startDaemon } from "../support/daemon.ts"
import { quietLogs } from "../support/harness.ts"

const defaults = Effect.runSync(ConfigSchema.parse(ConfigProvider.fromEnv({ env: {} })))
const settingsWith = (allow: ReadonlyArray<string>, force: ReadonlyArray<string> = [], sandbox: GatewaySettings["exec"]["sandbox"] = "off"): GatewaySettings => ({
  ...defaults,
  stateDir: tmpdir(),
  exec: { ...defaults.exec, allow: [...allow], force: [...force], sandbox }
})

const request: Inbound = { id: "r-1", source: "http:alice", text: "run", priority: "human", receivedAt: 0 }

describe("launchers in SWITCHBOARD_EXEC_ALLOW", () => {
  it.live("env and a symlink to a shell are refused at start with one line (exit 2)", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "switchboard-launcher-"))
      const alias = join(dir, "tool")
      symlinkSync("/bin/sh", alias)
      try {
        for (const [allow, named] of [["git,env", "env"], [alias, alias]] as const) {
          const run = yield* Effect.promise(() =>
            runDaemonToExit({ SWITCHBOARD_STATE_DIR: join(dir, "state"), SWITCHBOARD_EXEC_ALLOW: allow }, 10_000)
          )
          assert.strictEqual(run.code, 2, `${allow} was accepted`)
          assert.match(run.stderr, new RegExp(`^switchboard: invalid configuration: SWITCHBOARD_EXEC_ALLOW: ${named.replace(/[/.]/g, "\\$&")}.* is a shell, launcher or interpreter: .*SWITCHBOARD_EXEC_FORCE`))
          assert.strictEqual(run.stderr.trim().split("\n").length, 1)
        }
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }), 60_000)

  it.effect("sh, python3.11, /usr/bin/env, node and awk are launchers; git, make, cat are not", () =>
    Effect.gen(function*() {
      for (const program of ["sh", "python3.11", "/usr/bin/env", "node", "awk", "xargs", "bash"]) {
        const refused = yield* prepareExec(settingsWith([program])).pipe(Effect.flip)
        assert.strictEqual(refused.variable, "SWITCHBOARD_EXEC_ALLOW", program)
        assert.include(refused.message, `${program}`)
        assert.strictEqual((yield* Effect.result(prepareExec(settingsWith([program], [program]))))._tag, "Success", `${program} forced`)
      }
      for (const program of ["git", "make", "cat"]) {
        assert.strictEqual((yield* Effect.result(prepareExec(settingsWith([program]))))._tag, "Success", program)
      }
    }).pipe(Effect.provide(quietLogs)))

  it.live("SWITCHBOARD_EXEC_FORCE accepts a launcher on purpose", () =>
    Effect.gen(function*() {
      const d = yield* Effect.promise(() => startDaemon({ env: { SWITCHBOARD_EXEC_ALLOW: "env", SWITCHBOARD_EXEC_FORCE: "env" } }))
      try {
        assert.strictEqual((yield* Effect.promise(() => d.json("/health"))).status, 200)
      } finally {
        yield* Effect.promise(() => d.stop())
        rmSync(d.stateDir, { recursive: true, force: true })
      }
    }), 30_000)
})

const jobsWith = (allow: ReadonlyArray<string>, rules?: Parameters<typeof ExecJobs.make>[0]["rules"]) =>
  Effect.gen(function*() {
    const recorded: Recorded = { events: [], wakes: [] }
    const scope = yield* Scope.make()
    const jobs = yield* ExecJobs.make({ allow, timeout: Duration.seconds(10), outputCap: 4096, maxJobs: 4, ...(rules ? { rules } : {}) }).pipe(
      Effect.provide(recordingHeartbeat(recorded)),
      Effect.provide(quietLogs),
      Scope.provide(scope)
    )
    return { jobs, recorded, scope }
  })

const startOf = (jobs: ExecJobs["Service"], argv: ReadonlyArray<string>) =>
  jobs.start(argv).pipe(withCurrentRequest(request), Effect.result, Effect.provide(quietLogs))

describe("argument rules", () => {
  it.live("the built-in rules refuse what runs other commands: git -c / --upload-pack / config, find -exec, make --eval / VAR=, npm exec / install", () =>
    Effect.gen(function*() {
      const { jobs, scope } = yield* jobsWith(["git", "find", "make", "npm"])
      const refused: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["git", "-c", "alias.x=!id", "x"], "git:-c"],
        [["git", "-c", "core.fsmonitor=touch /tmp/pwned", "status"], "git:-c"],
        [["git", "--config-env=core.pager=X", "log"], "git:--config-env"],
        [["git", "fetch", "--upload-pack=touch /tmp/pwned", "origin"], "git:--upload-pack"],
        [["git", "ls-remote", "--upload-p", "sh", "origin"], "git:--upload-pack"], // git takes abbreviations
        [["git", "config", "core.pager", "sh"], "git:config"],
        [["git", "rebase", "-ix", "sh", "main"], "git rebase:-x"],
        [["git", "clone", "-u", "sh -c id", "repo"], "git clone:-u"],
        [["git", "submodule", "foreach", "id"], "git:submodule"],
        [["find", ".", "-exec", "sh", "-c", "id", ";"], "find:-exec"],
        [["find", ".", "-execdir", "id", ";"], "find:-execdir"],
        [["make", "--eval=$(shell id)"], "make:--eval"],
        [["make", "-E", "$(shell id)"], "make:-E"],
        [["make", "build", "CC=sh -c id"], "make:/^[^-][^=]*=/"],
        [["make", "-f", "/tmp/other.mk"], "make:-f"],
        [["npm", "exec", "--", "cowsay"], "npm:/^(?:ex|exe|exec)$/"],
        [["npm", "exe", "cowsay"], "npm:/^(?:ex|exe|exec)$/"],
        [["npm", "install", "left-pad"], "npm:/^(?:in|ins|inst|insta|instal|install)$/"],
        [["npm", "x", "cowsay"], "npm:x"],
        [["npm", "run", "build", "--script-shell=/bin/sh"], "npm:--script-shell"]
      ]
      for (const [argv, rule] of refused) {
        const result = yield* startOf(jobs, argv)
        assert.strictEqual(result._tag, "Failure", `${argv.join(" ")} was started`)
        if (result._tag === "Failure") assert.include(result.failure.message, `(rule ${rule}:`, argv.join(" "))
      }
      assert.deepStrictEqual(yield* jobs.list, [])
      yield* Scope.close(scope, Exit.void)
    }), 30_000)

  it.live("everyday use still runs: git --version, find -name, make --version, npm --version", () =>
    Effect.gen(function*() {
      const { jobs, scope } = yield* jobsWith(["git", "find", "make", "npm"])
      for (const argv of [["git", "--version"], ["find", ".", "-maxdepth", "0", "-name", "."], ["make", "-j4", "--version"], ["npm", "--version"]]) {
        const result = yield* startOf(jobs, argv)
        assert.strictEqual(result._tag, "Success", `${argv.join(" ")}: ${result._tag === "Failure" ? result.failure.message : ""}`)
      }
      yield* Scope.close(scope, Exit.void)
    }), 30_000)

  it.live("rules of your own (SWITCHBOARD_EXEC_DENY syntax) apply too", () =>
    Effect.gen(function*() {
      const { jobs, scope } = yield* jobsWith(["cat"], [{ program: "cat", pattern: "/etc/*" }])
      const result = yield* startOf(jobs, ["cat", "/etc/shadow"])
      assert.strictEqual(result._tag, "Failure")
      yield* Scope.close(scope, Exit.void)
    }))
})
