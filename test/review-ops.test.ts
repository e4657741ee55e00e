// Operator review (systemd / launchd, watchdog, logs, metrics): regression tests for the bugs found.
// Each `it` names the file:line of the bug. They run the BUILT daemon and CLI (npm run build first).
import { spawnSync } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { formatTripwire } from "../src/heartbeat/tripwire.ts"
import { CLI, ROOT, runCli, startDaemon, type Daemon } from "./support/daemon.ts"

const dirs: Array<string> = []
const daemons: Array<Daemon> = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "switchboard-review-ops-"))
  dirs.push(d)
  return d
}
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop()
  for (const d of dirs.splice(0)) {
    try {
      chmodSync(d, 0o755)
    } catch {
      // already gone
    }
    rmSync(d, { recursive: true, force: true })
  }
})

describe("review-ops: watchdog", () => {
  // Bug: src/heartbeat/tripwire.ts:41 maps every read error but ENOENT (EACCES included) to
  // "Unreadable", and judgeTripwire (tripwire.ts:68) makes that `fail`, so src/cli/watchdog.ts:28 exits 1
  // ("STALE: restart the daemon"). A watchdog that merely lacks permission to read the state dir
  // judges a FRESH tripwire stale and has a healthy daemon SIGKILLed every minute, forever.
  // It cannot judge: that is exit 2 ("fix it, do not restart"), like an unreadable configuration.
  it("a fresh tripwire the watchdog may not read is 'cannot judge' (exit 2), not STALE (exit 1)", () => {
    const root = tempDir()
    const stateDir = join(root, "state")
    const env = { PATH: process.env["PATH"] ?? "", SWITCHBOARD_STATE_DIR: stateDir }
    // A fresh tripwire, as the daemon writes it.
    spawnSync("mkdir", ["-p", stateDir])
    writeFileSync(join(stateDir, "tripwire"), formatTripwire(Date.now()))
    const asRoot = process.getuid?.() === 0
    let result: ReturnType<typeof spawnSync>
    if (asRoot) {
      // root reads anything: run the watchdog as nobody against a 0700 state dir owned by root.
      chmodSync(root, 0o755)
      chmodSync(stateDir, 0o700)
      result = spawnSync(process.execPath, [CLI, "watchdog"], { cwd: ROOT, env, uid: 65534, gid: 65534, encoding: "utf8" })
    } else {
      chmodSync(join(stateDir, "tripwire"), 0o000)
      result = spawnSync(process.execPath, [CLI, "watchdog"], { cwd: ROOT, env, encoding: "utf8" })
    }
    assert.match(String(result.stderr), /EACCES/, "the watchdog could not read the tripwire")
    assert.notMatch(String(result.stderr), /STALE/, "a permission problem is not a stale heartbeat")
    assert.strictEqual(result.status, 2, "exit 1 makes the unit SIGKILL a healthy daemon")
  })

  // Bug: src/layers/startup.ts:82 (describeStartupFailure's fallback) words a config-file failure as
  // "cannot start: …"; src/heartbeat/loadSettings.ts:22 reuses it for the watchdog, so the watchdog's
  // journal says `switchboard watchdog: error: cannot start: SWITCHBOARD_CONFIG_FILE: …`: the operator
  // reads that the daemon cannot start. docs/deploy/README.md promises `error: invalid configuration: …`.
  it("an unreadable SWITCHBOARD_CONFIG_FILE reads 'invalid configuration', not 'cannot start'", async () => {
    const dir = tempDir()
    const result = await runCli(["watchdog"], {
      SWITCHBOARD_STATE_DIR: dir,
      SWITCHBOARD_CONFIG_FILE: join(dir, "missing.json")
    })
    assert.strictEqual(result.code, 2)
    assert.notInclude(result.stderr, "cannot start")
    assert.match(result.stderr, /^switchboard watchdog: error: invalid configuration: SWITCHBOARD_CONFIG_FILE/)
  })
})

describe("review-ops: metrics", () => {
  // Bug: src/domain/metrics.ts:8,24,25 and src/heartbeat/metrics.ts:4 — the failure counters only
  // appear in /metrics after their first increment (nothing initialises them). Prometheus'
  // increase()/rate() need two samples of a series, so the FIRST failure after every start (a series
  // born at 1) never fires `increase(switchboard_turns_total{outcome="Failed"}[5m]) > 0`; rare
  // failures are exactly the ones an operator alerts on. Export them at 0 from the start.
  it("the failure counters an operator alerts on are exported at 0 from the start", async () => {
    const d = await startDaemon()
    daemons.push(d)
    // One good turn, so the turn/delivery series exist at all.
    const posted = await d.post("/v1/messages", { text: "hello", source: "http:ops", id: "m1" })
    assert.strictEqual(posted.status, 202)
    const done = await d.json("/v1/messages/http:ops~m1?wait=10")
    assert.strictEqual(done.body.status, "done")
    const text = await (await d.fetch("/metrics")).text()
    for (
      const series of [
        /^switchboard_turns_total\{outcome="Failed"\} 0$/m,
        /^switchboard_turns_total\{outcome="TimedOut"\} 0$/m,
        /^switchboard_queue_refused_total 0$/m,
        /^switchboard_deliveries_total\{[^}]*outcome="failed"[^}]*\} 0$/m,
        /^switchboard_heartbeat_ticks_total\{outcome="failed"\} 0$/m
      ]
    ) {
      assert.match(text, series, `missing from /metrics until the first failure: ${series}`)
    }
  }, 30_000)
})
