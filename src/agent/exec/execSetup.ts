// What exec needs decided once at start: the allowlist checked for launchers (refused unless
// forced), the deny rules parsed, the sandbox probed (a clear WARN when there is none), and the
// secret values to scrub from output. A bad setting stops the daemon with one line (exit 2).
import { accessSync, constants, existsSync, realpathSync, statSync } from "node:fs"
import { delimiter, isAbsolute, join, resolve } from "node:path"
import { Effect } from "effect"
import { ConfigInvalid, type GatewaySettings } from "../../config/GatewayConfig.ts"
import { secretPaths, secretValues } from "../../config/secretFiles.ts"
import { defaultRules, type DenyRule, isLauncher, parseRule } from "./policy.ts"
import { chooseSandbox, makeSandbox, type Sandbox } from "./sandbox.ts"

const executable = (path: string) => {
  try {
    accessSync(path, constants.X_OK)
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** Where `program` is on `PATH` (or itself, when it is a path), symlinks resolved; undefined when not found. */
export const resolveProgram = (program: string, path = process.env["PATH"] ?? ""): string | undefined => {
  const candidates = program.includes("/")
    ? [isAbsolute(program) ? program : resolve(program)]
    : path.split(delimiter).filter((d) => d !== "").map((d) => join(d, program))
  const found = candidates.find(executable)
  if (found === undefined) return undefined
  try {
    return realpathSync(found)
  } catch {
    return found
  }
}

export interface ExecSetup {
  readonly rules: ReadonlyArray<DenyRule>
  readonly sandbox: Sandbox
  readonly secrets: ReadonlyArray<string>
}

const invalid = (variable: string, expected: string) => Effect.fail(new ConfigInvalid({ variable, expected }))

export const prepareExec = (settings: GatewaySettings, env: Readonly<Record<string, string | undefined>> = process.env) =>
  Effect.gen(function*() {
    const exec = settings.exec
    for (const program of exec.allow) {
      const real = resolveProgram(program)
      const launcher = isLauncher(program) ? program : real !== undefined && isLauncher(real) ? real : undefined
      if (launcher !== undefined && !exec.force.includes(program)) {
        return yield* invalid(
          "SWITCHBOARD_EXEC_ALLOW",
          `${program}${launcher !== program ? ` (${launcher})` : ""} is a shell, launcher or interpreter: allowing it lets ` +
            `the agent run any program; list it in SWITCHBOARD_EXEC_FORCE as well if you mean that`
        )
      }
    }
    const rules: Array<DenyRule> = exec.defaultDeny ? [...defaultRules()] : []
    for (const entry of exec.deny) {
      const rule = parseRule(entry)
      if (rule === undefined) {
        return yield* invalid("SWITCHBOARD_EXEC_DENY", `"${entry}" is not program:pattern (e.g. git:--upload-pack, "git rebase:-x")`)
      }
      rules.push(rule)
    }
    const secrets = secretValues(settings, env)
    if (exec.allow.length === 0) return { rules, sandbox: makeSandbox("none", { files: [], dirs: [] }), secrets } satisfies ExecSetup
    // What a job must not read even inside the sandbox: files holding secrets, and the state dir
    // (conversations, job output, a generated API token). Only existing paths can be hidden.
    const paths = secretPaths(env)
    const hidden = {
      files: paths.files.filter((f) => existsSync(f)),
      dirs: [...paths.dirs, resolve(settings.stateDir)].filter((d) => existsSync(d))
    }
    const truePath = resolveProgram("true") ?? "/bin/true"
    const choice = chooseSandbox(exec.sandbox, truePath, hidden)
    if (choice._tag === "Unavailable") {
      if (exec.sandbox !== "auto") {
        return yield* invalid(
          "SWITCHBOARD_EXEC_SANDBOX",
          `${exec.sandbox} does not work on this machine (install bubblewrap, or use auto or off)`
        )
      }
      yield* Effect.logWarning(
        "exec runs WITHOUT a sandbox: neither bwrap (bubblewrap) nor unshare works here, so a job can read the " +
          "daemon's process (/proc/<pid>/environ) and files; output is still scrubbed of known secrets. Install " +
          "bubblewrap (apt-get install bubblewrap), or set SWITCHBOARD_EXEC_SANDBOX=off to accept this"
      )
      return { rules, sandbox: makeSandbox("none", hidden), secrets } satisfies ExecSetup
    }
    if (exec.sandbox === "off") {
      yield* Effect.logWarning("exec runs without a sandbox (SWITCHBOARD_EXEC_SANDBOX=off): a job can read the daemon's process")
    } else {
      yield* Effect.logInfo(`exec jobs run in a sandbox (${choice.sandbox.kind})`)
    }
    return { rules, sandbox: choice.sandbox, secrets } satisfies ExecSetup
  })
