// Redis faults never stop the gateway (BUILT daemon, a redis-server of the test's own on a free
// port, keeping nothing on disk): Redis down at start, Redis restarted (its data, the group
// included, gone), a stalled Redis. Meanwhile HTTP answers, /health warns, the log says it once;
// afterwards the bus catches up.
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, startDaemon } from "../../support/daemon.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "../../support/fakeChatCompletions.ts"
import { type Bus, connectBus, type RedisServer, redisServer } from "../../support/redis.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => {})
})

const FAST = { SWITCHBOARD_REDIS_RECONNECT_MAX: "200 millis", SWITCHBOARD_REDIS_BLOCK: "200 millis" }

const server = async () => {
  const s = await redisServer()
  cleanup.push(() => s.dispose())
  return s
}

const daemonOn = async (s: RedisServer, env: Record<string, string> = {}) => {
  const d = await startDaemon({ env: { REDIS_URL: s.url(0), ...FAST, ...env } })
  cleanup.push(() => d.stop())
  return d
}

const busOn = async (s: RedisServer) => {
  const b = await connectBus(s.url(0), { flush: false })
  cleanup.push(() => b.close())
  return b
}

/** The bus's own check; absent for the moment between the server listening and the bus starting. */
const redisHealth = async (d: Daemon) =>
  ((await d.json("/health")).body.checks.redis ?? { status: "absent" }) as { status: string; detail?: string }

/** HTTP works whatever Redis does: a message posted now is answered. */
const httpAnswers = async (d: Daemon, text: string) => {
  const posted = await d.post("/v1/messages", { text, source: "http:me" })
  expect(posted.status).toBe(202)
  const done = await d.json(`/v1/messages/${posted.body.id}?wait=15`)
  expect(done.body).toMatchObject({ status: "done", reply: `echo: ${text}` })
}

const busLines = (d: Daemon, what: string) => d.lines.filter((l) => l.includes("redis bus:") && l.includes(what))

describe("Redis faults", () => {
  it("Redis down at start: HTTP answers, /health warns once-logged, and the bus catches up when Redis comes", async () => {
    const redis = await server()
    const daemon = await daemonOn(redis)

    await httpAnswers(daemon, "anyone home?")
    const down = await eventually(async () => {
      const s = (await daemon.json("/status")).body.redis
      return s?.state === "down" && s.failures >= 5 ? s : undefined
    })
    expect(down.lastError).toMatch(/ECONNREFUSED/)
    expect(await redisHealth(daemon)).toMatchObject({ status: "warn", detail: expect.stringMatching(/unreachable since .*ECONNREFUSED/) })
    expect((await daemon.json("/health")).status).toBe(200)
    expect((await daemon.json("/status")).body.channels.redis).toMatchObject({ state: "failing", lastError: expect.stringMatching(/ECONNREFUSED/) })
    // Five and more failed attempts, one line.
    expect(busLines(daemon, "cannot reach Redis")).toHaveLength(1)

    await redis.start()
    const bus = await busOn(redis)
    await eventually(async () => ((await redisHealth(daemon)).status === "pass" ? true : undefined))
    await bus.publish({ type: "message", source: "redis:late", text: "there you are", id: "late-1" })
    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:late~late-1")
    expect(reply.fields["text"]).toBe("echo: there you are")
    expect(busLines(daemon, "connected again after")).toHaveLength(1)
    expect(busLines(daemon, "cannot reach Redis")).toHaveLength(1)
  })

  it("Redis restarted without its data: the group is created again, a reply made meanwhile arrives once, new entries are answered", async () => {
    const redis = await server()
    await redis.start()
    let release = () => {}
    const model: FakeChatCompletions = await startFakeChatCompletions()
    cleanup.push(() => model.close())
    model.setDefault((req) => {
      const text = String(req.messages.filter((m) => m.role === "user").at(-1)?.content ?? "")
      // The first bus message is held until the test lets it go (while Redis is down).
      return text.includes("slow one")
        ? new Promise((resolve) => (release = () => resolve({ text: "slow answer" })))
        : { text: `model: ${text}` }
    })
    const daemon = await daemonOn(redis, { SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: model.url })
    let bus = await busOn(redis)
    await eventually(async () => ((await redisHealth(daemon)).status === "pass" ? true : undefined))

    await bus.publish({ type: "message", source: "redis:ci", text: "the slow one", id: "s-1" })
    await eventually(async () => (model.inFlight() === 1 ? true : undefined))
    await bus.close()
    await redis.stop()
    release()
    // The reply cannot be written: it waits in the outbox; the gateway stays up and warns.
    await eventually(async () => ((await daemon.json("/status")).body.outbox.waiting === 1 ? true : undefined), 15_000)
    expect((await redisHealth(daemon)).status).toBe("warn")
    const posted = await daemon.post("/v1/messages", { text: "http still here?", source: "http:me" })
    const done = await daemon.json(`/v1/messages/${posted.body.id}?wait=15`)
    expect(done.body).toMatchObject({ status: "done", reply: expect.stringContaining("http still here?") })

    await redis.start()
    bus = await busOn(redis)
    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:ci~s-1", 25_000)
    expect(reply.fields["text"]).toBe("slow answer")
    const groups = (await bus.redis.xinfo("GROUPS", "switchboard:inbound")) as Array<Array<unknown>>
    expect(groups.map((g) => g[1])).toEqual(["switchboard"])
    await bus.publish({ type: "message", source: "redis:ci", text: "after the restart", id: "s-2" })
    await bus.waitOutbound((e) => e.fields["requestId"] === "redis:ci~s-2")
    const replies = (await bus.outbound()).filter((e) => e.fields["requestId"] === "redis:ci~s-1")
    expect(replies).toHaveLength(1)
    expect(busLines(daemon, "lost Redis")).toHaveLength(1)
  }, 60_000)

  it("a full queue pauses the bus (entries wait in the stream, nothing dropped) and it resumes on its own", async () => {
    const redis = await server()
    await redis.start()
    let release = () => {}
    const held = new Promise<void>((resolve) => (release = resolve))
    const model: FakeChatCompletions = await startFakeChatCompletions()
    cleanup.push(() => model.close())
    model.setDefault(async (req) => {
      await held
      return { text: `model: ${String(req.messages.filter((m) => m.role === "user").at(-1)?.content ?? "").split("\n").at(-1)}` }
    })
    const daemon = await daemonOn(redis, {
      SWITCHBOARD_MODEL_PROVIDER: "openai",
      OPENAI_BASE_URL: model.url,
      SWITCHBOARD_MODEL_STREAM: "false",
      SWITCHBOARD_QUEUE_CAP: "2"
    })
    const bus = await busOn(redis)
    await eventually(async () => ((await redisHealth(daemon)).status === "pass" ? true : undefined))
    for (let i = 0; i < 6; i++) await bus.publish({ type: "message", source: "redis:full", text: `task ${i}`, id: `t-${i}` })
    // One turn runs, two wait in the queue, the bus holds the rest back.
    const paused = await eventually(async () => {
      const s = (await daemon.json("/status")).body
      return s.redis.paused !== null && s.queue.depth === 2 ? s : undefined
    })
    expect(paused.redis.paused).toMatch(/queue is full/)
    const pausedLines = busLines(daemon, "paused").length
    release()
    for (let i = 0; i < 6; i++) {
      const reply = await bus.waitOutbound((e) => e.fields["requestId"] === `redis:full~t-${i}`, 20_000)
      expect(reply.fields["text"]).toBe(`model: task ${i}`)
    }
    expect(await bus.dead()).toEqual([])
    expect((await daemon.json("/status")).body.redis.paused).toBeNull()
    // Logged when it pauses and when it resumes, not on every retry while it waits.
    expect(pausedLines).toBe(1)
    expect(busLines(daemon, "resumed").length).toBe(busLines(daemon, "paused").length)
  }, 60_000)

  it("a stalled Redis (accepts, never answers) is noticed and replaced; HTTP answers meanwhile", async () => {
    const redis = await server()
    await redis.start()
    const daemon = await daemonOn(redis, { SWITCHBOARD_REDIS_STALL_TIMEOUT: "1 second" })
    const bus = await busOn(redis)
    await eventually(async () => ((await redisHealth(daemon)).status === "pass" ? true : undefined))

    redis.pause()
    try {
      const warned = await eventually(async () => {
        const h = await redisHealth(daemon)
        return h.status === "warn" ? h : undefined
      }, 15_000)
      expect(warned.detail).toMatch(/no reply within|stalled/)
      await httpAnswers(daemon, "are you stuck?")
    } finally {
      redis.resume()
    }
    await eventually(async () => ((await redisHealth(daemon)).status === "pass" ? true : undefined), 15_000)
    await bus.publish({ type: "message", source: "redis:st", text: "moving again", id: "m-1" })
    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:st~m-1")
    expect(reply.fields["text"]).toBe("echo: moving again")
  }, 60_000)
})
