// The Redis bus on the BUILT daemon against the real Redis (DB 1), driven as a publisher would:
// XADD to switchboard:inbound, read switchboard:outbound. The model is the fake chat-completions
// server, so "no model call" is a count of its requests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, runCli, startDaemon } from "../../support/daemon.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "../../support/fakeChatCompletions.ts"
import { type Bus, connectBus, REDIS_PORT, redisUrl } from "../../support/redis.ts"

const DB = 1

describe("the Redis bus on the built daemon", () => {
  let bus: Bus
  let model: FakeChatCompletions
  let daemon: Daemon
  const dir = mkdtempSync(join(tmpdir(), "switchboard-bus-checks-"))

  beforeAll(async () => {
    const checksFile = join(dir, "checks.json")
    writeFileSync(checksFile, JSON.stringify({
      checks: [{ name: "db-backup", kind: "push", expectEvery: "1 day", target: "http:ops", severity: "info" }]
    }))
    bus = await connectBus(redisUrl(DB))
    model = await startFakeChatCompletions()
    // The model answers with what it was asked, so a reply shows which request it belongs to.
    model.setDefault((req) => ({ text: `model: ${req.messages.filter((m) => m.role === "user").at(-1)?.content ?? ""}` }))
    daemon = await startDaemon({
      env: {
        REDIS_URL: bus.url,
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: model.url,
        SWITCHBOARD_HEARTBEAT_COALESCE: "50 millis",
        SWITCHBOARD_CHECKS_FILE: checksFile,
        SWITCHBOARD_REDIS_BLOCK: "500 millis",
        SWITCHBOARD_REDIS_OUTBOUND_MAXLEN: "50"
      }
    })
    await eventually(async () => ((await daemon.json("/health")).body.checks.redis?.status === "pass" ? true : undefined))
  })
  afterAll(async () => {
    await daemon?.stop()
    await model?.close()
    await bus?.close()
    rmSync(dir, { recursive: true, force: true })
  })
  beforeEach(async () => {
    await bus.redis.del("switchboard:outbound", "switchboard:dead")
  })

  it("a message round trip: XADD → the agent → one reply on switchboard:outbound", async () => {
    await bus.publish({ type: "message", source: "redis:deploys", text: "is prod healthy?", id: "ask-1", priority: "human" })
    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:deploys~ask-1")
    expect(reply.fields).toEqual({
      target: "redis:deploys",
      requestId: "redis:deploys~ask-1",
      kind: "reply",
      text: expect.stringContaining("is prod healthy?")
    })
    // The reply is the bus's, not an HTTP client's: GET /v1/messages/:id serves only http:/cli: requests.
    const looked = await daemon.json("/v1/messages/redis:deploys~ask-1")
    expect(looked.status).toBe(404)
    // Acknowledged once accepted: nothing left pending in the group.
    await eventually(async () => (Number((await bus.redis.xpending("switchboard:inbound", "switchboard"))[0]) === 0 ? true : undefined))
  })

  it("a message without an id is answered under its stream id, at event priority by default", async () => {
    const streamId = await bus.publish({ type: "message", source: "redis:cron", text: "nightly summary please" })
    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === `redis:cron~${streamId}`)
    expect(reply.fields["text"]).toContain("nightly summary please")
    const prompt = model.requests.find((r) => JSON.stringify(r.messages).includes("nightly summary please"))
    expect(prompt).toBeDefined()
  })

  it("a system-event is relayed to its own session key, and to no other", async () => {
    await bus.publish({ type: "system-event", sessionKey: "redis:alpha", text: "backup of db-1 finished" })
    await bus.publish({ type: "system-event", sessionKey: "http:alice", text: "deploy 42 rolled out" })
    const relay = await bus.waitOutbound((e) => e.fields["kind"] === "relay")
    expect(relay.fields["target"]).toBe("redis:alpha")
    expect(relay.fields["text"]).toContain("backup of db-1 finished")
    expect(relay.fields["text"]).not.toContain("deploy 42")
    // http:alice's event reaches http:alice's inbox, not the bus.
    const inbox = await eventually(async () => {
      const r = await daemon.json("/v1/inbox/http:alice?wait=5")
      return r.body.messages.length > 0 ? r.body.messages : undefined
    })
    expect(inbox[0]).toMatchObject({ kind: "relay", text: expect.stringContaining("deploy 42 rolled out") })
    expect(inbox[0].text).not.toContain("backup of db-1")
    const relays = (await bus.outbound()).filter((e) => e.fields["kind"] === "relay")
    expect(relays.map((e) => e.fields["target"])).toEqual(["redis:alpha"])
  })

  it("notify is delivered straight through the Router, without a model call", async () => {
    const before = model.requests.length
    await bus.publish({ type: "notify", target: "redis:ops", text: "disk at 91% on db-1", id: "n-1" })
    await bus.publish({ type: "notify", target: "http:alice", text: "your report is ready" })
    const sent = await bus.waitOutbound((e) => e.fields["target"] === "redis:ops")
    expect(sent.fields).toEqual({ target: "redis:ops", requestId: "redis:notify~n-1", kind: "notify", text: "disk at 91% on db-1" })
    const inbox = await eventually(async () => {
      const r = await daemon.json("/v1/inbox/http:alice?wait=5")
      const found = r.body.messages.find((m: any) => m.kind === "notify")
      return found
    })
    expect(inbox.text).toBe("your report is ready")
    expect(model.requests.length).toBe(before)
  })

  it("a system-event with a severity is triaged (an info one waits for the digest): no relay, no model call", async () => {
    const before = model.requests.length
    await bus.publish({ type: "system-event", sessionKey: "http:ops", text: "replica lag back to 0", severity: "info", id: "sev-1" })
    await eventually(async () => ((await daemon.json("/status")).body.redis.pending === 0 ? true : undefined))
    const sent = await runCli(["digest", "--now"], { SWITCHBOARD_URL: daemon.url })
    expect(sent.stdout).toMatch(/^http:ops: 1 item\(s\) in 1 message\(s\), delivered$/m)
    const digest = (await daemon.json("/v1/inbox/http:ops")).body.messages.find((m: any) => m.text.startsWith("Digest:"))
    expect(digest.text).toContain("replica lag back to 0")
    expect(model.requests.length).toBe(before)
    expect(await bus.dead()).toEqual([])
  })

  it("cron.heartbeat is acknowledged and dropped: no turn, no model call, counted", async () => {
    const before = model.requests.length
    const turnsBefore = (await daemon.json("/status")).body.counters.turns
    await bus.publish({ type: "cron.heartbeat" })
    await bus.publish({ type: "cron.heartbeat", schedule: "*/5 * * * *" })
    const status = await eventually(async () => {
      const s = (await daemon.json("/status")).body
      return s.redis.heartbeatsDropped >= 2 && s.redis.pending === 0 ? s : undefined
    })
    expect(status.counters.turns).toBe(turnsBefore)
    expect(model.requests.length).toBe(before)
    expect(await bus.outbound()).toEqual([])
    expect(await bus.dead()).toEqual([])
    const metrics = await (await daemon.fetch("/metrics")).text()
    expect(metrics).toContain('switchboard_redis_entries_total{type="cron.heartbeat",outcome="dropped"} 2')
  })

  it("a check-result goes to its push check's state machine, once; an unknown check is dead-lettered", async () => {
    await bus.publish({ type: "check-result", name: "db-backup", status: "fail", detail: "no dump since 26 h", id: "c-1" })
    await bus.publish({ type: "check-result", name: "db-backup", status: "fail", detail: "no dump since 26 h", id: "c-1" })
    const unknown = await bus.publish({ type: "check-result", name: "db-restore", status: "ok" })
    const [dead] = await bus.waitDead(1)
    expect(dead!.fields).toMatchObject({ streamId: unknown, code: "unknown_check", reason: expect.stringMatching(/db-restore/) })
    expect(JSON.parse(dead!.fields["entry"]!)).toEqual({ type: "check-result", name: "db-restore", status: "ok" })
    const check = await eventually(async () => {
      const checks = (await daemon.json("/v1/checks")).body.checks as Array<any>
      return checks.find((c) => c.name === "db-backup" && c.runs > 0)
    })
    // The repeat (same id) was acknowledged as a duplicate, not counted as a second run.
    expect(check).toMatchObject({ state: "failing", lastDetail: "no dump since 26 h", runs: 1 })
    expect(model.requests.every((r) => !JSON.stringify(r.messages).includes("no dump since 26 h"))).toBe(true)
  })

  it("an entry delivered again after its acknowledgement was lost (then a reconnect) is answered once", async () => {
    const consumer = (await daemon.json("/status")).body.redis.consumer as string
    const { claimed: claimedBefore, duplicates: duplicatesBefore } = (await daemon.json("/status")).body.redis
    const id = await bus.publish({ type: "message", source: "redis:again", text: "once please", id: "a-1" })
    await bus.waitOutbound((e) => e.fields["requestId"] === "redis:again~a-1")
    // Its reply can be out before its XACK is in: wait for that, so the one below is the only one.
    await eventually(async () => (Number((await bus.redis.xpending("switchboard:inbound", "switchboard"))[0]) === 0 ? true : undefined))
    // As if the XACK had never reached Redis: the entry is pending for this daemon's consumer again…
    await bus.redis.xclaim("switchboard:inbound", "switchboard", consumer, 0, id, "FORCE")
    const reconnectsBefore = (await daemon.json("/status")).body.redis.reconnects
    // …and the connection drops: the next session reads its own pending entries first.
    const clients = String(await bus.redis.client("LIST")).split("\n")
    const reader = clients.find((c) => c.includes(`name=switchboard-in:${consumer} `))
    expect(reader).toBeDefined()
    await bus.redis.client("KILL", "ID", /\bid=(\d+)/.exec(reader!)![1]!)
    await eventually(async () => {
      const pending = Number((await bus.redis.xpending("switchboard:inbound", "switchboard"))[0])
      const s = (await daemon.json("/status")).body
      return pending === 0 && s.redis.reconnects > reconnectsBefore && s.redis.state === "up" ? true : undefined
    })
    await bus.publish({ type: "message", source: "redis:again", text: "sentinel", id: "a-2" })
    await bus.waitOutbound((e) => e.fields["requestId"] === "redis:again~a-2")
    expect((await bus.outbound()).filter((e) => e.fields["requestId"] === "redis:again~a-1")).toHaveLength(1)
    // Read again by this consumer from its own pending entries, not claimed (claims wait a minute here).
    const after = (await daemon.json("/status")).body.redis
    expect(after.claimed).toBe(claimedBefore)
    expect(after.duplicates).toBe(duplicatesBefore + 1)
  })

  it("no stream grows without bound: acknowledged inbound entries are trimmed, outbound is capped", async () => {
    // Another group that has not read yet keeps its entries: only what every group acknowledged goes.
    await bus.redis.xgroup("CREATE", "switchboard:inbound", "audit", "$")
    try {
      const kept: Array<string> = []
      for (let i = 0; i < 3; i++) kept.push(await bus.publish({ type: "notify", target: "redis:audit", text: `kept ${i}`, id: `k-${i}` }))
      await bus.waitOutbound((e) => e.fields["requestId"] === "redis:notify~k-2")
      await bus.publish({ type: "cron.heartbeat" }) // one more round of maintenance after them
      const ids = await eventually(async () => {
        const rows = (await bus.redis.xrange("switchboard:inbound", "-", "+")) as Array<[string, Array<string>]>
        return rows.length <= 5 ? rows.map(([id]) => id) : undefined
      })
      expect(ids).toEqual(expect.arrayContaining(kept))
    } finally {
      await bus.redis.xgroup("DESTROY", "switchboard:inbound", "audit")
    }
    const pipeline = bus.redis.pipeline()
    for (let i = 0; i < 250; i++) pipeline.xadd("switchboard:inbound", "*", "type", "notify", "target", "redis:flood", "text", `n${i}`)
    await pipeline.exec()
    await bus.waitOutbound((e) => e.fields["text"] === "n249", 30_000)
    // MAXLEN ~ 50: Redis trims whole nodes (100 entries), so a little more than 50 stays.
    expect(await bus.redis.xlen("switchboard:outbound")).toBeLessThanOrEqual(150)
    // Everything acknowledged is trimmed from the inbound stream (the last delivered entry may stay).
    await eventually(async () => ((await bus.redis.xlen("switchboard:inbound")) <= 1 ? true : undefined))
  })

  it("/status has a redis section and /health a passing redis check", async () => {
    // Lag and pending are refreshed about every second.
    const status = await eventually(async () => {
      const s = (await daemon.json("/status")).body
      return s.redis.lag === 0 ? s : undefined
    })
    expect(status.redis).toMatchObject({
      state: "up",
      consumer: expect.stringMatching(/^.+:[0-9a-f]{8}$/),
      server: `127.0.0.1:${REDIS_PORT}/${DB}`,
      lag: 0,
      pending: 0,
      outboundConnection: "ready"
    })
    expect(status.channels.redis).toMatchObject({ state: "up" })
    expect(JSON.stringify(status)).not.toContain("redis://")
    expect((await daemon.json("/health")).body.checks.redis).toEqual({ status: "pass" })
    const cli = await runCli(["status"], { SWITCHBOARD_URL: daemon.url })
    expect(cli.code).toBe(0)
    expect(cli.stdout).toMatch(new RegExp(`^redis {5}up as ${status.redis.consumer} on 127\\.0\\.0\\.1:${REDIS_PORT}/${DB}; lag 0, pending 0, \\d+ dead-lettered$`, "m"))
  })
})
