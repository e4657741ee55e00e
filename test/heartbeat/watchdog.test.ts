// `switchboard watchdog` judgement: reads the tripwire file and the interval directly (no HTTP), so
// it works when the daemon is hung. Stale = older than 2 × interval + grace.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { runWatchdog, watchdog } from "../../src/cli/watchdog.ts"
import { reloadHeartbeatSettings } from "../../src/heartbeat/loadSettings.ts"
import { judgeTripwire, parseTripwire, writeTripwireSync } from "../../src/heartbeat/tripwire.ts"
import { judgeTurn } from "../../src/heartbeat/turnHealth.ts"

const dirs: Array<string> = []
const stateDir = () => {
  const d = mkdtempSync(join(tmpdir(), "switchboard-watchdog-"))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0)
const env = (dir: string, extra: Record<string, string> = {}) => ({
  SWITCHBOARD_STATE_DIR: dir,
  SWITCHBOARD_HEARTBEAT_EVERY: "1 minute",
  SWITCHBOARD_WATCHDOG_GRACE: "30 seconds",
  ...extra
})

describe("watchdog", () => {
  it("passes on a fresh tripwire and fails one millisecond past 2 × interval + grace", () => {
    const dir = stateDir()
    writeTripwireSync(dir, T0)
    assert.deepInclude(watchdog(env(dir), T0 + 5_000), { ok: true, exitCode: 0 })
    assert.deepInclude(watchdog(env(dir), T0 + 150_000), { ok: true, exitCode: 0 })
    const stale = watchdog(env(dir), T0 + 150_001)
    assert.deepInclude(stale, { ok: false, exitCode: 1 })
    assert.match(stale.reason, /^tripwire is 150s old \(limit 150s\): heartbeat stalled \(.*tripwire\)$/)
    assert.notInclude(stale.reason, "\n")
  })

  it("uses the daemon's defaults (15 minutes, 30 seconds grace) when the variables are unset", () => {
    const dir = stateDir()
    writeTripwireSync(dir, T0)
    assert.isTrue(watchdog({ SWITCHBOARD_STATE_DIR: dir }, T0 + 30 * 60_000 + 30_000).ok)
    assert.isFalse(watchdog({ SWITCHBOARD_STATE_DIR: dir }, T0 + 30 * 60_000 + 30_001).ok)
  })

  it("fails on a missing or garbled tripwire", () => {
    const dir = stateDir()
    const missing = watchdog(env(dir), T0)
    assert.deepInclude(missing, { ok: false, exitCode: 1 })
    assert.match(missing.reason, /no tripwire file/)
    writeFileSync(join(dir, "tripwire"), "yesterday-ish")
    assert.match(watchdog(env(dir), T0).reason, /tripwire unreadable: not an ISO timestamp/)
  })

  it("a bad interval is a configuration error (exit 2) naming the variable", () => {
    const dir = stateDir()
    writeTripwireSync(dir, T0)
    const bad = watchdog(env(dir, { SWITCHBOARD_HEARTBEAT_EVERY: "often" }), T0)
    assert.deepInclude(bad, { ok: false, exitCode: 2 })
    assert.match(bad.reason, /SWITCHBOARD_HEARTBEAT_EVERY/)
  })

  it("reads the interval from SWITCHBOARD_CONFIG_FILE like the daemon", () => {
    const dir = stateDir()
    writeTripwireSync(dir, T0)
    const file = join(dir, "config.json")
    writeFileSync(file, JSON.stringify({ SWITCHBOARD_HEARTBEAT_EVERY: "1 hour" }))
    const e = { SWITCHBOARD_STATE_DIR: dir, SWITCHBOARD_CONFIG_FILE: file }
    assert.isTrue(watchdog(e, T0 + 2 * 3_600_000).ok)
  })

  it("prints one line and returns the exit code", () => {
    const dir = stateDir()
    const out: Array<string> = []
    const err: Array<string> = []
    const sink = { stdout: (l: string) => void out.push(l), stderr: (l: string) => void err.push(l) }
    assert.strictEqual(runWatchdog(env(dir), sink), 1)
    writeTripwireSync(dir, Date.now())
    assert.strictEqual(runWatchdog(env(dir), sink), 0)
    assert.strictEqual(err.length, 1)
    assert.match(err[0]!, /^switchboard watchdog: STALE: no tripwire file.*\n$/)
    assert.match(out[0]!, /^switchboard watchdog: ok: tripwire is \d+(\.\d)?s old/)
  })
})

describe("reloadHeartbeatSettings", () => {
  it.effect("re-reads SWITCHBOARD_CONFIG_FILE on every reload; a bad value fails naming the variable", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const file = join(dir, "config.json")
      const load = reloadHeartbeatSettings({ SWITCHBOARD_CONFIG_FILE: file })
      writeFileSync(file, JSON.stringify({ SWITCHBOARD_HEARTBEAT_EVERY: "1 minute" }))
      assert.strictEqual(Duration.toMillis((yield* load).every), 60_000)
      writeFileSync(file, JSON.stringify({ SWITCHBOARD_HEARTBEAT_EVERY: "2 minutes", SWITCHBOARD_HEARTBEAT_COALESCE: "1 second" }))
      const second = yield* load
      assert.strictEqual(Duration.toMillis(second.every), 120_000)
      assert.strictEqual(Duration.toMillis(second.coalesce), 1000)
      writeFileSync(file, JSON.stringify({ SWITCHBOARD_HEARTBEAT_EVERY: "soon" }))
      const error = yield* Effect.flip(load)
      assert.match(error.message, /SWITCHBOARD_HEARTBEAT_EVERY/)
    }))
})

describe("tripwire and turn judgements", () => {
  it("the tripwire is an ISO timestamp written atomically", () => {
    const dir = stateDir()
    writeTripwireSync(dir, T0)
    writeTripwireSync(dir, T0 + 1000)
    assert.strictEqual(parseTripwire("2026-01-01T12:00:01.000Z\n"), T0 + 1000)
    assert.isUndefined(parseTripwire("12:00"))
  })

  it("warns after one missed interval, fails after two (plus grace)", () => {
    const found = { _tag: "Found", at: 0 } as const
    assert.strictEqual(judgeTripwire(found, 60_000 + 30_000, 60_000, 30_000).status, "pass")
    assert.strictEqual(judgeTripwire(found, 60_000 + 30_001, 60_000, 30_000).status, "warn")
    assert.strictEqual(judgeTripwire(found, 150_001, 60_000, 30_000).status, "fail")
  })

  it("a turn is fine until its limit, warned past it, failed past limit + grace", () => {
    const active = { id: "r1", source: "http:bob", startedAt: 0 }
    assert.strictEqual(judgeTurn(undefined, 1e9, 1000, 100).status, "pass")
    assert.strictEqual(judgeTurn(active, 1000, 1000, 100).status, "pass")
    assert.strictEqual(judgeTurn(active, 1001, 1000, 100).status, "warn")
    assert.strictEqual(judgeTurn(active, 1101, 1000, 100).status, "fail")
  })
})
