// The built daemon with a checks file: an http check against a test server the test turns off and
// on (the person's chat hears "failing", then "ok again"; the flaps wait for the digest, which
// `switchboard digest --now` sends), a GitHub-signed webhook (and wrong, missing and replayed
// ones), a bad checks file at reload (the running checks stay, the reason is said) and at start.
import { createHmac } from "node:crypto"
import { createServer, type Server } from "node:http"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, freePort, runCli, runDaemonToExit, startDaemon } from "../support/daemon.ts"

const TOKEN = "api-token-e2e"
const SECRET = "webhook-secret-e2e"

/** A server on a fixed port that can be switched off (connections cut) and on again. */
const switchable = async () => {
  const port = await freePort()
  let server: Server | undefined
  const on = () =>
    new Promise<void>((resolve) => {
      server = createServer((_req, res) => res.end("healthy"))
      server.listen(port, "127.0.0.1", () => resolve())
    })
  const off = () =>
    new Promise<void>((resolve) => {
      if (server === undefined) return resolve()
      server.closeAllConnections()
      server.close(() => resolve())
      server = undefined
    })
  return { port, on, off }
}

describe("checks on the built daemon", () => {
  let daemon: Daemon
  let target: Awaited<ReturnType<typeof switchable>>
  const dir = mkdtempSync(join(tmpdir(), "switchboard-checks-e2e-"))
  const file = join(dir, "checks.json")
  const checksFile = (port: number, extra: Array<unknown> = []) => ({
    checks: [
      {
        name: "web",
        kind: "http",
        url: `http://127.0.0.1:${port}/health`,
        contains: "healthy",
        every: "150 millis",
        timeout: "1 second",
        failAfter: 2,
        cooldown: "0 seconds",
        flap: { flips: 3, window: "10 minutes" }
      },
      ...extra
    ],
    hooks: [{ name: "ci", secret: "CI_SECRET", signature: "github", template: "{{repository.full_name}}: {{workflow_run.conclusion}}" }]
  })

  beforeAll(async () => {
    target = await switchable()
    await target.on()
    writeFileSync(file, JSON.stringify(checksFile(target.port)))
    daemon = await startDaemon({
      token: TOKEN,
      env: { SWITCHBOARD_CHECKS_FILE: file, SWITCHBOARD_ALERT_TARGET: "http:me", CI_SECRET: SECRET, SWITCHBOARD_ALERT_STORM_LIMIT: "20" }
    })
  })
  afterAll(async () => {
    await daemon?.stop()
    await target?.off()
    rmSync(dir, { recursive: true, force: true })
  })

  const stateOf = async (name: string) =>
    ((await daemon.json("/v1/checks")).body.checks as Array<{ name: string; state: string }>).find((c) => c.name === name)?.state
  const becomes = (name: string, state: string) =>
    eventually(async () => ((await stateOf(name)) === state ? true : undefined), 15_000)
  const inbox = async () => ((await daemon.json("/v1/inbox/http:me")).body.messages as Array<{ kind: string; text: string }>)
  const heard = (text: string) => eventually(async () => ((await inbox()).find((m) => m.text.includes(text))), 15_000)

  it("a real outage is heard once, its recovery once; the flaps wait for the digest", async () => {
    await becomes("web", "ok")
    await target.off()
    const failing = await heard("web is failing")
    expect(failing.kind).toBe("reply") // the agent's words (echo here), from an immediate alert
    expect(failing.text).toMatch(/connection refused/)
    await target.on()
    await heard("web ok again after")
    // Two more changes, then it is flapping: one alert says so, later changes go to the digest.
    await target.off()
    await becomes("web", "failing")
    await target.on()
    await heard("web is flapping")
    await target.off()
    await eventually(async () => ((await daemon.json("/v1/checks")).body.checks[0].failures >= 2 ? true : undefined))
    await target.on()
    await eventually(async () => ((await daemon.json("/v1/checks")).body.checks[0].lastDetail?.startsWith("HTTP 200") ? true : undefined))
    await new Promise((r) => setTimeout(r, 500)) // a few more runs: nothing new is said
    const alerts = (await inbox()).filter((m) => m.text.includes("Alert from switchboard"))
    expect(alerts.map((m) => /web (is failing|ok again|is flapping)/.exec(m.text)?.[1])).toEqual(["is failing", "ok again", "is failing", "is flapping"])

    const env = { SWITCHBOARD_URL: daemon.url, SWITCHBOARD_API_TOKEN: TOKEN }
    const sent = await runCli(["digest", "--now"], env)
    expect(sent).toMatchObject({ code: 0 })
    expect(sent.stdout).toMatch(/^http:me: 2 item\(s\) in 1 message\(s\), delivered$/m)
    const digest = (await inbox()).find((m) => m.text.startsWith("Digest:"))!
    expect(digest.kind).toBe("notify")
    expect(digest.text).toContain("check web (warning): 2×")
    expect(digest.text).toContain("2 while flapping")
    expect((await runCli(["digest", "--now"], env)).stdout).toBe("the digest is empty: nothing sent\n")

    const table = await runCli(["checks"], env)
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/^NAME\s+KIND\s+STATE/)
    expect(table.stdout).toMatch(/^web\s+http\s+flapping/m)
    const metrics = await (await daemon.fetch("/metrics")).text()
    expect(metrics).toMatch(/switchboard_check_state\{check="web"\} 2/)
    expect(metrics).toMatch(/switchboard_check_runs_total\{check="web",outcome="fail"\} [1-9]/)
    expect(metrics).toMatch(/switchboard_triage_total\{action="immediate"\} 4/)
    const status = await daemon.json("/status")
    expect(status.body.checks.checks[0]).toMatchObject({ name: "web", kind: "http", state: "flapping" })
  }, 90_000)

  it("a GitHub-signed webhook is accepted and triaged; wrong, missing and replayed ones are not", async () => {
    const body = JSON.stringify({ repository: { full_name: "me/app" }, workflow_run: { conclusion: "failure" } })
    const sign = (b: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(b).digest("hex")}`
    // Public: GitHub cannot send the API token; the signature is the authentication.
    const post = (headers: Record<string, string>, b = body) =>
      fetch(`${daemon.url}/v1/hooks/ci`, { method: "POST", body: b, headers: { "content-type": "application/json", ...headers } })
    const good = { "x-hub-signature-256": sign(body), "x-github-delivery": "delivery-1", "x-github-event": "workflow_run" }
    const accepted = await post(good)
    expect(accepted.status).toBe(202)
    expect(await accepted.json()).toEqual({ accepted: true, action: "immediate", deliveryId: "delivery-1" })
    const alert = await heard("me/app: failure")
    expect(alert.text).toContain("from webhook:ci")
    expect(alert.text).toContain("UNTRUSTED")

    const replay = await post(good)
    expect(replay.status).toBe(200)
    expect(await replay.json()).toEqual({ duplicate: true, deliveryId: "delivery-1" })
    const marker = "PAYLOAD-THAT-MUST-NOT-BE-LOGGED"
    const forged = JSON.stringify({ repository: { full_name: marker } })
    const wrong = await post({ "x-hub-signature-256": sign(forged, "guess"), "x-github-delivery": "delivery-2" }, forged)
    expect(wrong.status).toBe(401)
    expect((await wrong.json()).error.code).toBe("bad_signature")
    expect((await post({ "x-github-delivery": "delivery-3" })).status).toBe(401)
    expect((await fetch(`${daemon.url}/v1/hooks/nope`, { method: "POST", body })).status).toBe(404)

    await new Promise((r) => setTimeout(r, 300))
    expect((await inbox()).filter((m) => m.text.includes("me/app: failure"))).toHaveLength(1)
    expect(daemon.lines.join("\n")).not.toContain(marker)
    expect(daemon.lines.join("\n")).not.toContain(SECRET)
    const metrics = await (await daemon.fetch("/metrics")).text()
    expect(metrics).toMatch(/switchboard_webhooks_total\{hook="ci",outcome="bad_signature"\} 1/)
    expect(metrics).toMatch(/switchboard_webhooks_total\{hook="ci",outcome="missing_signature"\} 1/)
    expect(metrics).toMatch(/switchboard_webhooks_total\{hook="ci",outcome="duplicate"\} 1/)
  }, 60_000)

  it("a bad checks file at reload keeps the running checks and says why; a good one replaces them", async () => {
    writeFileSync(file, "{ not json")
    const bad = await daemon.post("/v1/admin/reload", {})
    expect(bad.status).toBe(400)
    expect(bad.body.error.code).toBe("invalid_checks")
    expect(bad.body.error.message).toMatch(/not valid JSON.*the running checks stay/)
    expect(((await daemon.json("/v1/checks")).body.checks as Array<{ name: string }>).map((c) => c.name)).toEqual(["web"])
    expect((await daemon.json("/status")).body.checks.lastReloadError).toMatch(/not valid JSON/)
    expect((await daemon.json("/health")).body.checks.checks).toMatchObject({ status: "warn", detail: expect.stringMatching(/not reloaded/) })

    writeFileSync(file, JSON.stringify(checksFile(target.port, [{ name: "db", kind: "push", expectEvery: "1 hour" }])))
    const good = await daemon.post("/v1/admin/reload", {})
    expect(good.status).toBe(200)
    expect(good.body.checks).toMatchObject({ checks: 2, added: ["db"], removed: [], changed: [] })
    const pushed = await daemon.post("/v1/checks/db", { status: "fail", detail: "backup failed", severity: "critical" })
    expect(pushed.status).toBe(202)
    await heard("db is failing: backup failed")
  }, 60_000)

  it("a system event with a severity is triaged: a critical one interrupts, an info one waits for the digest", async () => {
    const ops = async () => ((await daemon.json("/v1/inbox/http:ops")).body.messages as Array<{ kind: string; text: string }>)
    const critical = await daemon.post("/v1/system-events", { sessionKey: "http:ops", text: "disk 97% on db-1", contextKey: "disk", severity: "critical" })
    expect(critical.status).toBe(202)
    expect(critical.body).toEqual({ sessionKey: "http:ops", triaged: "immediate" })
    const alert = await eventually(async () => (await ops()).find((m) => m.text.includes("disk 97% on db-1")), 15_000)
    expect(alert.text).toContain("from http:system-events")
    expect(alert.text).toContain("UNTRUSTED")

    const info = await daemon.post("/v1/system-events", { sessionKey: "http:ops", text: "nightly vacuum done", severity: "info" })
    expect(info.body).toEqual({ sessionKey: "http:ops", triaged: "digest" })
    const sent = await runCli(["digest", "--now"], { SWITCHBOARD_URL: daemon.url, SWITCHBOARD_API_TOKEN: TOKEN })
    expect(sent.stdout).toMatch(/^http:ops: 1 item\(s\) in 1 message\(s\), delivered$/m)
    const digest = (await ops()).find((m) => m.text.startsWith("Digest:"))!
    expect(digest.text).toContain("nightly vacuum done")
    expect((await ops()).filter((m) => m.text.includes("nightly vacuum done"))).toHaveLength(1)
  }, 60_000)

  it("a bad checks file at start stops the daemon with one line naming it", async () => {
    const broken = join(dir, "broken.json")
    writeFileSync(broken, JSON.stringify({ checks: [{ name: "x", kind: "tcp", host: "h", port: 1 }] }))
    const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: dir, SWITCHBOARD_CHECKS_FILE: broken })
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `switchboard: invalid configuration: SWITCHBOARD_CHECKS_FILE: ${broken}: checks[0] (x): no "target", and SWITCHBOARD_ALERT_TARGET is not set\n`
    )
  }, 30_000)
})
