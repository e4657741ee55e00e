// End to end on the built daemon (dist/main.js, dist/cli/main.js): a system event posted over HTTP
// is relayed into that key's inbox; `switchboard watchdog` fails while the daemon is SIGSTOPped
// (hung) long enough, and passes again once it is SIGCONTinued.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, runCli, startDaemon } from "../support/daemon.ts"

const HEARTBEAT = {
  SWITCHBOARD_HEARTBEAT_EVERY: "1 second",
  SWITCHBOARD_WATCHDOG_GRACE: "1 second",
  SWITCHBOARD_HEARTBEAT_COALESCE: "50 millis"
}

describe("heartbeat on the built daemon", () => {
  let daemon: Daemon
  beforeAll(async () => {
    daemon = await startDaemon({ env: HEARTBEAT })
  })
  afterAll(async () => {
    if (daemon?.process.pid !== undefined) daemon.process.kill("SIGCONT") // a stopped process ignores SIGTERM
    await daemon?.stop()
  })

  it("POST /v1/system-events for http:alice → the relay appears in GET /v1/inbox/http:alice", async () => {
    const posted = await daemon.post("/v1/system-events", { sessionKey: "http:alice", text: "nightly backup finished" })
    expect(posted.status).toBe(202)
    const inbox = await daemon.json("/v1/inbox/http:alice?wait=10")
    expect(inbox.status).toBe(200)
    expect(inbox.body.messages).toHaveLength(1)
    expect(inbox.body.messages[0]).toMatchObject({ kind: "relay", text: expect.stringMatching(/nightly backup finished/) })
    const bob = await daemon.json("/v1/inbox/http:bob")
    expect(bob.body.messages).toEqual([])
    const status = await eventually(async () => {
      const s = await daemon.json("/status")
      return s.body.heartbeat?.relays?.replied === 1 ? s.body : undefined
    })
    expect(status.heartbeat.systemEvents.pending).toEqual({})
    expect(status.heartbeat.ticks).toBeGreaterThanOrEqual(1)
  })

  it("SIGHUP and POST /v1/admin/reload replace the runner in place; the daemon keeps ticking", async () => {
    const before = (await daemon.json("/status")).body.heartbeat
    daemon.process.kill("SIGHUP")
    const afterHup = await eventually(async () => {
      const hb = (await daemon.json("/status")).body.heartbeat
      return hb.generation === before.generation + 1 ? hb : undefined
    })
    expect(afterHup.liveRunners).toBe(1)
    const reloaded = await daemon.post("/v1/admin/reload", {})
    expect(reloaded.status).toBe(200)
    expect(reloaded.body).toMatchObject({ reloaded: true, generation: before.generation + 2, heartbeat: { every: "1s" } })
    await eventually(async () => {
      const hb = (await daemon.json("/status")).body.heartbeat
      return hb.ticks >= afterHup.ticks + 2 ? hb : undefined
    })
  })

  it("switchboard watchdog fails after the daemon is SIGSTOPped long enough and passes after SIGCONT", async () => {
    const env = { SWITCHBOARD_STATE_DIR: daemon.stateDir, ...HEARTBEAT }
    const fresh = await runCli(["watchdog"], env)
    expect(fresh.code).toBe(0)
    expect(fresh.stdout).toMatch(/^switchboard watchdog: ok: tripwire is [\d.]+s old/)

    daemon.process.kill("SIGSTOP")
    try {
      // Stale once older than 2 × 1 s + 1 s grace.
      const stale = await eventually(async () => {
        const r = await runCli(["watchdog"], env)
        return r.code === 1 ? r : undefined
      }, 15_000, 250)
      expect(stale.stderr).toMatch(/^switchboard watchdog: STALE: tripwire is [\d.]+s old \(limit 3s\): heartbeat stalled/)
      expect(stale.stderr.trim().split("\n")).toHaveLength(1)
    } finally {
      daemon.process.kill("SIGCONT")
    }

    // On resume the overdue tick runs at once.
    await eventually(async () => {
      const r = await runCli(["watchdog"], env)
      return r.code === 0 ? r : undefined
    }, 10_000, 250)
    const health = await daemon.json("/health")
    expect(health.body.checks.tripwire.status).toBe("pass")
  }, 40_000)
})
