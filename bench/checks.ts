// Checks benchmark against the built daemon: 1,000 http checks every 10 s for a minute. CPU per
// check run (the daemon's CPU time, minus what the same daemon without checks spends in the same
// time), and a person's HTTP round trip p99 with the checks running, as a ratio of the no-checks
// run measured in the same run (target: at most 1.2×).
import { createServer } from "node:http"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Daemon, startDaemon } from "../test/support/daemon.ts"
import { type Figures, percentile, roundTrip } from "./core.ts"

const CHECKS = 1000
const MEASURE_MS = 60_000

/** User + system CPU time of a process, in ms (Linux /proc; clock ticks are 100 Hz). */
const cpuMs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * Sequential round trips for `ms`, alternating between the two daemons so that both meet the same
 * machine (a shared 2-core box is never quiet): their times, and each daemon's CPU in that window.
 */
const measure = async (plain: Daemon, loaded: Daemon, ms: number) => {
  const times = { plain: [] as Array<number>, loaded: [] as Array<number> }
  const cpu0 = { plain: cpuMs(plain.process.pid!), loaded: cpuMs(loaded.process.pid!) }
  const t0 = performance.now()
  for (let i = 0; performance.now() - t0 < ms; i++) {
    for (const [name, d] of [["plain", plain], ["loaded", loaded]] as const) {
      const s = performance.now()
      await roundTrip(d, i)
      times[name].push(performance.now() - s)
    }
    // A person types, they do not hammer: about 10 messages a second to each.
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    plain: times.plain.sort((a, b) => a - b),
    loaded: times.loaded.sort((a, b) => a - b),
    cpuPlainMs: cpuMs(plain.process.pid!) - cpu0.plain,
    cpuLoadedMs: cpuMs(loaded.process.pid!) - cpu0.loaded,
    elapsedMs: performance.now() - t0
  }
}

const runsOf = async (daemon: Daemon) =>
  ((await daemon.json("/v1/checks")).body.checks as Array<{ runs: number }>).reduce((n, c) => n + c.runs, 0)

export const runChecks = async (): Promise<Figures> => {
  const target = createServer((_req, res) => res.end("ok"))
  await new Promise<void>((r) => target.listen(0, "127.0.0.1", () => r()))
  const port = (target.address() as { port: number }).port
  const dir = mkdtempSync(join(tmpdir(), "switchboard-bench-checks-"))
  const file = join(dir, "checks.json")
  writeFileSync(file, JSON.stringify({
    checks: Array.from({ length: CHECKS }, (_, i) => ({
      name: `svc-${i}`,
      kind: "http",
      url: `http://127.0.0.1:${port}/health/${i}`,
      every: "10 seconds",
      timeout: "5 seconds"
    }))
  }))
  const env = { SWITCHBOARD_LOG_LEVEL: "Warn" }
  const plain = await startDaemon({ env })
  const daemon = await startDaemon({ env: { ...env, SWITCHBOARD_CHECKS_FILE: file, SWITCHBOARD_ALERT_TARGET: "http:bench-alerts" } })
  try {
    for (let i = 0; i < 100; i++) {
      await roundTrip(plain, i) // warm-up
      await roundTrip(daemon, i)
    }
    await new Promise((r) => setTimeout(r, 11_000)) // every check has started
    const runs0 = await runsOf(daemon)
    const m = await measure(plain, daemon, MEASURE_MS)
    const runs = (await runsOf(daemon)) - runs0
    const p99 = percentile(m.loaded, 99)
    const p99Base = percentile(m.plain, 99)
    const failing = ((await daemon.json("/v1/checks")).body.checks as Array<{ state: string }>).filter((c) => c.state !== "ok").length
    return {
      "check runs in the minute": runs,
      "checks not ok (should be 0)": failing,
      "CPU per check run, ms (beyond the same traffic without checks)": +((m.cpuLoadedMs - m.cpuPlainMs) / runs).toFixed(3),
      "daemon CPU with checks, % of one core": +((m.cpuLoadedMs / m.elapsedMs) * 100).toFixed(1),
      "round trip p50 ms: no checks / with checks": `${percentile(m.plain, 50).toFixed(2)} / ${percentile(m.loaded, 50).toFixed(2)}`,
      "round trip p99 ms: no checks / with checks": `${p99Base.toFixed(2)} / ${p99.toFixed(2)}`,
      "p99 ratio with / without checks (target ≤ 1.2)": +(p99 / p99Base).toFixed(2)
    }
  } finally {
    await daemon.stop()
    await plain.stop()
    target.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
