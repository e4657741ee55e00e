// `switchboard watchdog`: judges the tripwire file against the heartbeat interval WITHOUT talking to
// the daemon, so it works when the daemon is hung (ADR-0037). For a systemd timer or launchd job:
// exit 0 when fresh, 1 with a one-line reason when stale, 2 when the configuration cannot be read.
import { Duration } from "effect"
import { readSettingsSync } from "../heartbeat/loadSettings.ts"
import { judgeTripwire, readTripwireSync, tripwirePath } from "../heartbeat/tripwire.ts"

export interface WatchdogResult {
  readonly ok: boolean
  readonly reason: string
  /** 0 fresh, 1 stale (restart the daemon), 2 cannot judge (configuration or tripwire unreadable). */
  readonly exitCode: 0 | 1 | 2
}

export const watchdog = (env: Record<string, string | undefined>, now: number = Date.now()): WatchdogResult => {
  // The same settings the daemon reads (environment plus SWITCHBOARD_CONFIG_FILE).
  const settings = readSettingsSync(env)
  if (typeof settings === "string") return { ok: false, reason: settings, exitCode: 2 }
  const read = readTripwireSync(settings.stateDir)
  // A tripwire we may not read says nothing about the daemon: restarting a healthy one every
  // minute would be worse than not judging (exit 2, like an unreadable configuration).
  if (read._tag === "Inaccessible") {
    return { ok: false, reason: `cannot read the tripwire: ${read.reason} (run the watchdog as the daemon's user)`, exitCode: 2 }
  }
  const j = judgeTripwire(
    read,
    now,
    Duration.toMillis(settings.heartbeat.every),
    Duration.toMillis(settings.heartbeat.watchdogGrace)
  )
  const where = tripwirePath(settings.stateDir)
  // Only a stale tripwire means "restart": a late tick (warn) is not yet a hung daemon.
  return j.status === "fail"
    ? { ok: false, reason: `${j.reason} (${where})`, exitCode: 1 }
    : { ok: true, reason: `${j.reason} (${where})`, exitCode: 0 }
}

/** Print the one-line verdict (stdout when fine, stderr otherwise) and return the exit code. */
export const runWatchdog = (
  env: Record<string, string | undefined> = process.env,
  out: { readonly stdout: (line: string) => void; readonly stderr: (line: string) => void } = {
    stdout: (line) => process.stdout.write(line),
    stderr: (line) => process.stderr.write(line)
  }
): number => {
  const result = watchdog(env)
  if (result.ok) out.stdout(`switchboard watchdog: ok: ${result.reason}\n`)
  else out.stderr(`switchboard watchdog: ${result.exitCode === 1 ? "STALE" : "error"}: ${result.reason}\n`)
  return result.exitCode
}
