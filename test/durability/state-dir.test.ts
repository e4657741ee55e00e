// The state dir's rules, on the BUILT daemon as a process: one daemon per dir (a second one refuses
// with one line; a lock left by a killed one is replaced), a read-only or full dir stops the start
// with one line (exit 2) instead of a daemon that keeps nothing, a disk that fills at runtime makes
// /health warn, stale temp files go, and everything is private whatever the umask.
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, MAIN, startDaemon, type StartOptions } from "../support/daemon.ts"
import { startFakeChatCompletions } from "../support/fakeChatCompletions.ts"
import { runShell } from "../support/shell.ts"

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-statedir-"))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const daemon = async (options: StartOptions) => {
  const d = await startDaemon(options)
  cleanup.push(() => d.stop())
  return d
}

const isRoot = process.getuid?.() === 0

/** A dir no write reaches: a read-only tmpfs for root (who ignores modes), else mode 0500. */
const readOnlyDir = () => {
  const dir = freshDir()
  if (isRoot) {
    execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir])
    cleanup.push(() => execFileSync("umount", [dir]))
  } else {
    execFileSync("chmod", ["0500", dir])
    cleanup.push(() => execFileSync("chmod", ["0700", dir]))
  }
  return dir
}

/** Start the built daemon through bash, with `setup` (umask, ulimit) run first; returns its exit and output. */
const runThroughShell = (setup: string, env: Record<string, string>) =>
  runShell(`${setup}; exec "$0" "$@"`, [process.execPath, MAIN], { SWITCHBOARD_HTTP_PORT: "0", ...env })

const health = async (d: Daemon) => (await d.json<{ status: string; checks: Record<string, { status: string; detail?: string }> }>("/health")).body

describe("one daemon per state dir", () => {
  // Two daemons on one dir once both ran: each rewrote daemon.json, the tripwire and the
  // conversation file under the other, and replies interleaved in one conversation.
  it("a second daemon on the same state dir refuses to start with one line, and the first keeps answering", async () => {
    const first = await daemon({})
    const second = await runThroughShell("true", { SWITCHBOARD_STATE_DIR: first.stateDir })
    expect(second.code).toBe(2)
    const lines = second.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`is in use by another switchboard (pid ${first.process.pid}`)
    expect(JSON.parse(readFileSync(join(first.stateDir, "daemon.json"), "utf8")).pid).toBe(first.process.pid)
    const posted = await first.post<{ id: string }>("/v1/messages", { text: "still here?", source: "http:me" })
    expect((await first.json(`/v1/messages/${encodeURIComponent(posted.body.id)}?wait=5`)).body.reply).toBe("echo: still here?")
  })

  it("a lock left by a daemon killed with SIGKILL is replaced at the next start, and the start says so", async () => {
    const dir = freshDir()
    const killed = await startDaemon({ stateDir: dir })
    expect(await killed.stop("SIGKILL")).toBe("SIGKILL")
    expect(existsSync(join(dir, "daemon.lock"))).toBe(true)
    const next = await daemon({ stateDir: dir })
    expect(next.lines.some((l) => l.includes(`replaced the lock of switchboard pid ${killed.process.pid}`))).toBe(true)
    expect(JSON.parse(readFileSync(join(dir, "daemon.lock"), "utf8")).pid).toBe(next.process.pid)
  })

  // After a reboot the dead daemon's pid is often some other process: a lock that trusted the pid
  // alone would refuse every start from then on.
  it("a lock naming a pid that now belongs to another process does not stop the start", async () => {
    const dir = freshDir()
    writeFileSync(join(dir, "daemon.lock"), JSON.stringify({ pid: process.pid, startedAt: "2026-01-01T00:00:00.000Z", ticks: "1" }))
    const d = await daemon({ stateDir: dir })
    expect(JSON.parse(readFileSync(join(dir, "daemon.lock"), "utf8")).pid).toBe(d.process.pid)
  })

  it("a stop removes the lock", async () => {
    const d = await startDaemon({ stateDir: freshDir() })
    expect(await d.stop()).toBe(0)
    expect(existsSync(join(d.stateDir, "daemon.lock"))).toBe(false)
  })
})

describe("a state dir that cannot be written", () => {
  // Once the daemon started anyway: it could keep nothing, its tripwire never ticked, and the
  // watchdog restarted it every minute, for ever.
  it("a read-only state dir stops the start with one line and exit 2", async () => {
    const dir = readOnlyDir()
    const run = await runThroughShell("true", { SWITCHBOARD_STATE_DIR: dir })
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^switchboard: cannot start: the state dir .* is not writable: /)])
  })

  it("a full state dir stops the start with one line and exit 2", async () => {
    const dir = freshDir()
    // Root: a real full disk (a 64 KiB tmpfs filled up). Otherwise: no file may grow (ulimit -f 0).
    let setup = "ulimit -f 0"
    if (isRoot) {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir])
      cleanup.push(() => execFileSync("umount", [dir]))
      try {
        writeFileSync(join(dir, "filler"), Buffer.alloc(64 * 1024))
      } catch {
        // full: what we wanted
      }
      setup = "true"
    }
    const run = await runThroughShell(`trap '' XFSZ; ${setup}`, { SWITCHBOARD_STATE_DIR: dir })
    expect(run.code).toBe(2)
    const lines = run.stderr.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/is not writable: (the disk is full|a file-size limit stops writes)/)
  })

  // A full disk at runtime was an ERROR line per failed write while /health said "pass", and the
  // message that could not be kept was acknowledged anyway.
  it("a disk that fills up at runtime makes /health warn and /status say what is not written; the sender is not told it was kept", async () => {
    const model = await startFakeChatCompletions()
    cleanup.push(() => model.close())
    const dir = freshDir()
    // Every file may grow to 160 KiB: the store's log and the conversation soon cannot.
    const d = await startDaemon({
      stateDir: dir,
      env: { SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: model.url, SWITCHBOARD_MODEL: "m" },
      command: { file: "bash", args: ["-c", `trap '' XFSZ; ulimit -f 160; exec "$0" "$@"`, process.execPath, MAIN] }
    })
    cleanup.push(() => d.stop())
    expect((await health(d)).checks["persistence"]?.status).toBe("pass")
    const big = "y".repeat(40_000)
    const statuses: Array<number> = []
    const accepted: Array<string> = []
    for (let n = 0; n < 12 && (await health(d)).status === "pass"; n++) {
      const posted = await d.post<{ id: string }>("/v1/messages", { text: `${n} ${big}`, source: "http:me" })
      statuses.push(posted.status)
      if (posted.status !== 202) continue
      accepted.push(posted.body.id)
      // Answered, or stuck in the queue because the store cannot mark it running (then /health warns).
      await eventually(async () => {
        const r = await d.json(`/v1/messages/${encodeURIComponent(posted.body.id)}?wait=1`)
        return r.body.status === "done" || r.body.status === "failed" || (await health(d)).status !== "pass" || undefined
      })
    }
    const warned = await health(d)
    expect(warned.status, JSON.stringify(statuses)).toBe("warn")
    const status = (await d.json<{ persistence: { ok: boolean; failing: Array<{ what: string; lastError: string }> } }>("/status")).body
    expect(status.persistence.ok).toBe(false)
    // The store's log is the first file to hit the limit.
    expect(status.persistence.failing.map((f) => f.what)).toContain("store")
    expect(warned.checks["persistence"]?.detail).toContain("store")
    // An accepted message the store could not mark running is still queued (taken again later), not lost.
    const unanswered: Array<string> = []
    for (const id of accepted) {
      const r = await d.json<{ status: string }>(`/v1/messages/${encodeURIComponent(id)}`)
      if (r.body.status === "queued") unanswered.push(id)
    }
    expect((await d.json<{ queue: { depth: number } }>("/status")).body.queue.depth).toBe(unanswered.length)
    // A message the store could not keep is refused, never acknowledged with 202.
    const refused = await d.post("/v1/messages", { text: `last ${big}`, source: "http:me" })
    expect(refused.status).toBeGreaterThanOrEqual(500)
  })
})

describe("the state dir's files", () => {
  // daemon.json is how the CLI and tools find a daemon on port 0; a failed write was one WARN line.
  it("daemon.json that cannot be written makes /health warn and names it", async () => {
    const dir = freshDir()
    mkdirSync(join(dir, "daemon.json")) // a folder in its place: the rename onto it fails
    const d = await daemon({ stateDir: dir })
    const warned = await eventually(async () => {
      const h = await health(d)
      return h.status === "warn" ? h : undefined
    })
    expect(warned.checks["persistence"]?.detail).toContain("daemon.json")
  })


  it("temp files of a process that died mid-write are removed at start; the dir is 0700 and its files 0600 under umask 000", async () => {
    const model = await startFakeChatCompletions()
    cleanup.push(() => model.close())
    const dir = freshDir()
    mkdirSync(join(dir, "conversations"), { recursive: true })
    const stale = [join(dir, "daemon.json.4194000.tmp"), join(dir, ".tripwire.4194001.tmp"), join(dir, "conversations", ".current.4194002.tmp")]
    for (const f of stale) writeFileSync(f, "half", { mode: 0o644 })
    writeFileSync(join(dir, "conversations", "old.jsonl"), "", { mode: 0o644 })
    execFileSync("chmod", ["0755", dir])
    const d = await startDaemon({
      stateDir: dir,
      env: { SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: model.url, SWITCHBOARD_MODEL: "m" },
      command: { file: "bash", args: ["-c", `umask 000; exec "$0" "$@"`, process.execPath, MAIN] }
    })
    cleanup.push(() => d.stop())
    const posted = await d.post<{ id: string }>("/v1/messages", { text: "hello", source: "http:me" })
    await eventually(async () => (await d.json(`/v1/messages/${encodeURIComponent(posted.body.id)}?wait=5`)).body.status === "done" || undefined)
    for (const f of stale) expect(existsSync(f), f).toBe(false)
    expect(d.lines.some((l) => l.includes("removed 3 temp file(s)"))).toBe(true)
    const modes: Record<string, string> = {}
    const walk = (p: string) => {
      modes[p.slice(dir.length) || "/"] = (statSync(p).mode & 0o777).toString(8)
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) walk(join(p, e))
    }
    walk(dir)
    const wrong = Object.entries(modes).filter(([p, m]) => m !== (statSync(join(dir, p)).isDirectory() ? "700" : "600"))
    expect(wrong).toEqual([])
    expect(Object.keys(modes).some((p) => p.endsWith(".jsonl") && !p.includes("old"))).toBe(true)
  })
})
