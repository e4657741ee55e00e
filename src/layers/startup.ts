// How the process ends: exit codes for a requested stop, a start-up failure and a crash.
import { Cause, Exit, type Runtime } from "effect"

/**
 * Exit codes: 0 after a requested stop (SIGTERM/SIGINT interrupt the daemon), 2 for a start-up
 * failure (after printing one line), 1 otherwise. The default would exit 130 on SIGTERM.
 */
export const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return onExit(Number(process.exitCode ?? 0))
  onExit(1)
}
