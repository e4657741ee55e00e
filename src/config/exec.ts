// The exec tool's settings (SWITCHBOARD_EXEC_*): which programs, with which arguments refused, in
// which sandbox, after whose approval. Checked further at start by ExecJobs (launchers, rules).
import { Config } from "effect"
import { commaList, duration, positiveInt } from "./values.ts"

export const execSection = Config.all({
  allow: commaList("SWITCHBOARD_EXEC_ALLOW"),
  /** Shells, launchers and interpreters in the allowlist are refused at start unless listed here too. */
  force: commaList("SWITCHBOARD_EXEC_FORCE"),
  /** `program[ subcommand]:pattern` rules on top of the built-in ones. */
  deny: commaList("SWITCHBOARD_EXEC_DENY"),
  /** The built-in rules for git, make, npm and find (turning them off is at your own risk). */
  defaultDeny: Config.Boolean("SWITCHBOARD_EXEC_DEFAULT_DENY").pipe(Config.withDefault(true)),
  /** `ask`: the chat approves each job (Approve / Deny), except what SWITCHBOARD_EXEC_AUTO lists. */
  approval: Config.Literals(["ask", "never"], "SWITCHBOARD_EXEC_APPROVAL").pipe(Config.withDefault("ask")),
  auto: commaList("SWITCHBOARD_EXEC_AUTO"),
  sandbox: Config.Literals(["auto", "bwrap", "unshare", "off"], "SWITCHBOARD_EXEC_SANDBOX").pipe(Config.withDefault("auto")),
  timeout: duration("SWITCHBOARD_EXEC_TIMEOUT", "10 minutes"),
  /** Bytes of output kept per job (the tail). */
  outputCap: positiveInt("SWITCHBOARD_EXEC_OUTPUT_CAP", 64 * 1024),
  maxJobs: positiveInt("SWITCHBOARD_EXEC_MAX_JOBS", 4),
  /** Variables programs inherit besides PATH, HOME, USER, LANG, LC_*, TZ, TMPDIR, TERM, SHELL. */
  passEnv: commaList("SWITCHBOARD_EXEC_ENV")
})
