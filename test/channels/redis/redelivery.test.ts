// Once, whatever Redis or a publisher repeats (BUILT daemon, real Redis DB 3): a republished entry
// is answered once; entries a dead consumer left pending are claimed and answered; one delivered
// too often is dead-lettered; a group that vanished is created again. (A redelivery after a lost
// acknowledgement is in bus.test.ts, where claims are slow enough not to pick it up first.)
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, startDaemon } from "../../support/daemon.ts"
import { type Bus, connectBus, redisUrl, type StreamEntry } from "../../support/redis.ts"

const DB = 3
const CONSUMER = "redelivery-test-daemon"
const INBOUND = "switchboard:inbound"

const repliesTo = (entries: ReadonlyArray<StreamEntry>, requestId: string) =>
  entries.filter((e) => e.fields["requestId"] === requestId)

describe("the bus answers once", () => {
  let bus: Bus
  let daemon: Daemon
  const left: Array<string> = []
  let overdelivered = ""

  beforeAll(async () => {
    bus = await connectBus(redisUrl(DB))
    // A daemon that died: it read three messages and never acknowledged them, and one more that
    // it (and others before it) kept failing on.
    await bus.redis.xgroup("CREATE", INBOUND, "switchboard", "0", "MKSTREAM")
    for (const n of [1, 2, 3]) left.push(await bus.publish({ type: "message", source: "redis:left", text: `left behind ${n}`, id: `l-${n}` }))
    overdelivered = await bus.publish({ type: "message", source: "redis:poison", text: "I crash everyone", id: "p-1" })
    await bus.redis.xreadgroup("GROUP", "switchboard", "ghost", "COUNT", 10, "STREAMS", INBOUND, ">")
    // Each read of its history counts as one more delivery.
    for (let i = 0; i < 3; i++) await bus.redis.xreadgroup("GROUP", "switchboard", "ghost", "STREAMS", INBOUND, left[2]!)

    daemon = await startDaemon({
      env: {
        REDIS_URL: bus.url,
        SWITCHBOARD_REDIS_CONSUMER: CONSUMER,
        SWITCHBOARD_REDIS_CLAIM_IDLE: "300 millis",
        SWITCHBOARD_REDIS_MAX_DELIVERIES: "3",
        SWITCHBOARD_REDIS_BLOCK: "200 millis"
      }
    })
  })
  afterAll(async () => {
    await daemon?.stop()
    await bus?.close()
  })

  it("entries left pending by a dead consumer are claimed and answered; one delivered too often is dead-lettered", async () => {
    for (const n of [1, 2, 3]) {
      const reply = await bus.waitOutbound((e) => e.fields["requestId"] === `redis:left~l-${n}`)
      expect(reply.fields["text"]).toBe(`echo: left behind ${n}`)
    }
    const [dead] = await bus.waitDead(1)
    expect(dead!.fields).toMatchObject({
      streamId: overdelivered,
      code: "too_many_deliveries",
      reason: expect.stringMatching(/^delivered 5 times without being acknowledged \(SWITCHBOARD_REDIS_MAX_DELIVERIES is 3\)$/)
    })
    expect(repliesTo(await bus.outbound(), "redis:poison~p-1")).toEqual([])
    const status = await eventually(async () => {
      const s = (await daemon.json("/status")).body
      return s.redis.claimed >= 4 && s.redis.pending === 0 ? s : undefined
    })
    expect(status.redis.consumer).toBe(CONSUMER)
    const consumers = (await bus.redis.xinfo("CONSUMERS", INBOUND, "switchboard")) as Array<Array<unknown>>
    const ghost = consumers.map((c) => Object.fromEntries([[c[0], c[1]], [c[2], c[3]]])).find((c) => c["name"] === "ghost")
    expect(ghost?.["pending"]).toBe(0)
  })

  it("a republished entry (a publisher retrying with the same id) is answered once", async () => {
    await bus.publish({ type: "message", source: "redis:retry", text: "deploy 7?", id: "r-1" })
    await bus.publish({ type: "message", source: "redis:retry", text: "deploy 7?", id: "r-1" })
    await bus.publish({ type: "notify", target: "redis:retry", text: "heads up", id: "n-1" })
    await bus.publish({ type: "notify", target: "redis:retry", text: "heads up", id: "n-1" })
    // Entries are handled in order: once the one behind them is answered, the repeats were seen.
    await bus.publish({ type: "message", source: "redis:retry", text: "sentinel", id: "r-2" })
    await bus.waitOutbound((e) => e.fields["requestId"] === "redis:retry~r-2")
    const out = await bus.outbound()
    expect(repliesTo(out, "redis:retry~r-1")).toHaveLength(1)
    expect(repliesTo(out, "redis:notify~n-1")).toHaveLength(1)
    const status = (await daemon.json("/status")).body
    expect(status.redis.duplicates).toBeGreaterThanOrEqual(2)
  })

  it("a group that vanished (FLUSHDB under a live connection) is created again and the bus reads on", async () => {
    await bus.redis.flushdb()
    await bus.publish({ type: "message", source: "redis:fresh", text: "anyone?", id: "f-1" })
    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:fresh~f-1")
    expect(reply.fields["text"]).toBe("echo: anyone?")
    expect(daemon.lines.some((l) => l.includes("was missing") && l.includes("created it again"))).toBe(true)
  })
})
