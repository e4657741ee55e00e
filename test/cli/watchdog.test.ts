// `switchboard watchdog` (the built CLI) when it cannot judge: a tripwire it may not read or a
// configuration file it cannot read is exit 2 ("fix it, do not restart"), never STALE (exit 1).
import { spawnSync } from "node:child_process"
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { formatTripwire } from "../../src/heartbeat/tripwire.ts"
import { CLI, ROOT, runCli } from "../support/daemon.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "switchboard-watchdog-"))
  dirs.push(d)
  return d
}
afterEach(async () => {
  for (const d of dirs.splice(0)) {
    try {
      chmodSync(d, 0o755)
    } catch {
      // already gone
    }
    rmSync(d, { recursive: true, force: true })
  }
})

describe("watchdog that cannot judge", () => {
  // Every read error but ENOENT (EACCES included) was once "unreadable", judged `fail`: the watchdog
  // exited 1 ("STALE: restart the daemon"), so one that merely lacked permission to read the state dir
  // had a healthy daemon SIGKILLed every minute, forever.
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

  // A config-file failure was once worded "cannot start: …", and the watchdog reused it: its journal
  // said `switchboard watchdog: error: cannot start: SWITCHBOARD_CONFIG_FILE: …`, and the operator read
  // that the daemon could not start. docs/deploy/README.md promises `error: invalid configuration: …`.
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
