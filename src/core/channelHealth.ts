// /health's "channels" check, from each channel's life in Channels: every enabled channel must be
// receiving. Starting or failing shows as `warn` at once, and as `fail` once it has lasted the grace
// period (a channel that never came up, or that has not received for a while). Pure.
import type { ChannelReport } from "./Channels.ts"
import type { HealthCheck } from "./Status.ts"

/** How long a channel may be starting before /health fails. */
export const START_GRACE_MS = 60_000
/** How long a channel may be failing (not receiving) before /health fails. */
export const FAILING_GRACE_MS = 30_000

export const judgeChannels = (reports: ReadonlyArray<ChannelReport>, now: number): HealthCheck => {
  const problems: Array<string> = []
  let level: HealthCheck["status"] = "pass"
  for (const r of reports) {
    if (r.state === "up" || r.state === "standby" || r.state === "stopped") continue
    const forMs = now - Date.parse(r.since)
    const grace = r.state === "starting" ? START_GRACE_MS : FAILING_GRACE_MS
    const late = forMs >= grace
    if (late) level = "fail"
    else if (level === "pass") level = "warn"
    const seconds = Math.round(forMs / 1000)
    problems.push(
      `${r.name} ${r.state === "starting" ? "not receiving yet" : "not receiving"} (${r.state} for ${seconds} s)${
        r.lastError === null ? "" : `: ${r.lastError}`
      }`
    )
  }
  return problems.length === 0 ? { status: "pass" } : { status: level, detail: problems.join("; ") }
}
