// Agents and sessions on the BUILT daemon (dist/main.js): an agents file with a per-chat work agent
// and a shared home agent, both on the fake chat-completions server, which answers with the model
// that was asked (the agent) and the conversation it was shown (its first chat and length), so each
// reply says who answered and in which conversation. Driven only through HTTP and the CLI.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, runCli, startDaemon } from "../support/daemon.ts"
import { awaitInbox, type MessageRecord, textOf } from "../support/daemonDriver.ts"
import { connectBus, redisUrl } from "../support/redis.ts"
import { type FakeChatCompletions, type RecordedRequest, startFakeChatCompletions } from "../support/fakeChatCompletions.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The chat a conversation started in (its first message's header) and how many messages it holds. */
const conversationOf = (r: RecordedRequest) => {
  const users = r.messages.filter((m) => m.role === "user").map(textOf)
  return {
    first: /chat: (\S+)/.exec(users[0] ?? "")?.[1] ?? "?",
    n: users.length,
    last: (users.at(-1) ?? "").split("\n").at(-1) ?? ""
  }
}

describe("agents and sessions on the built daemon", () => {
  let fake: FakeChatCompletions
  let daemon: Daemon
  let dir: string
  /** Turns in flight per conversation, as the model server sees them. */
  const running = new Map<string, number>()
  const maxPerConversation = new Map<string, number>()
  const overall = { now: 0, max: 0 }

  beforeAll(async () => {
    fake = await startFakeChatCompletions()
    fake.setDefault(async (request) => {
      const c = conversationOf(request)
      const key = request.model === "work-model" ? `work ${c.first}` : "home"
      running.set(key, (running.get(key) ?? 0) + 1)
      maxPerConversation.set(key, Math.max(maxPerConversation.get(key) ?? 0, running.get(key)!))
      overall.max = Math.max(overall.max, ++overall.now)
      await sleep(300)
      running.set(key, running.get(key)! - 1)
      overall.now--
      return { text: `${request.model} first=${c.first} n=${c.n}: ${c.last}` }
    })
    dir = mkdtempSync(join(tmpdir(), "switchboard-agents-"))
    const file = join(dir, "agents.json")
    const homePrompt = join(dir, "home.md")
    writeFileSync(homePrompt, "You are the family's agent.")
    writeFileSync(file, JSON.stringify({
      agents: [
        { name: "work", scope: "per-chat", model: { model: "work-model", apiKeyVar: "WORK_KEY" }, bindings: ["http:*"] },
        {
          name: "home",
          scope: "shared",
          model: { model: "home-model" },
          systemPromptFile: homePrompt,
          tools: ["notify", "ask"],
          bindings: ["http:h1", "http:h2", "http:h3"]
        }
      ]
    }))
    daemon = await startDaemon({
      env: {
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: fake.url,
        OPENAI_API_KEY: "sk-home-0123456789",
        WORK_KEY: "sk-work-0123456789",
        SWITCHBOARD_AGENTS_FILE: file,
        SWITCHBOARD_MAX_CONCURRENT_TURNS: "4",
        SWITCHBOARD_HEARTBEAT_COALESCE: "50 millis"
      }
    })
  })

  afterAll(async () => {
    await daemon?.stop()
    await fake?.close()
    if (daemon !== undefined) rmSync(daemon.stateDir, { recursive: true, force: true })
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it("interleaved messages from six chats: each answered by its agent in its own conversation; sessions overlap, each stays serial", async () => {
    const chats = ["http:w1", "http:h1", "http:w2", "http:h2", "http:w3", "http:h3"]
    const ids: Array<{ chat: string; round: number; id: string }> = []
    for (const round of [1, 2]) {
      for (const chat of chats) {
        const posted = await daemon.post<{ id: string }>("/v1/messages", { text: `${chat.slice(5)}-${round}`, source: chat, id: `${chat.slice(5)}-${round}` })
        expect(posted.status).toBe(202)
        ids.push({ chat, round, id: posted.body.id })
      }
    }
    const replies = new Map<string, string>()
    for (const { id } of ids) {
      const record = await eventually(async () => {
        const r = await daemon.json<MessageRecord>(`/v1/messages/${encodeURIComponent(id)}?wait=5`)
        return r.body.status === "done" || r.body.status === "failed" ? r.body : undefined
      }, 30_000)
      expect(record.status, JSON.stringify(record)).toBe("done")
      replies.set(id, record.reply ?? "")
    }
    // The work agent: one conversation per chat, so each chat's second message is its conversation's second.
    for (const w of ["w1", "w2", "w3"]) {
      expect(replies.get(`http:${w}~${w}-1`)).toBe(`work-model first=http:${w} n=1: ${w}-1`)
      expect(replies.get(`http:${w}~${w}-2`)).toBe(`work-model first=http:${w} n=2: ${w}-2`)
    }
    // The home agent: one conversation for its three chats, six messages one after another.
    const home = ["h1", "h2", "h3"].flatMap((h) => [1, 2].map((r) => replies.get(`http:${h}~${h}-${r}`) ?? ""))
    for (const reply of home) expect(reply).toMatch(/^home-model first=http:h1 n=[1-6]: h[1-3]-[12]$/)
    expect(new Set(home.map((r) => /n=(\d)/.exec(r)![1])).size, "two home turns saw the same history").toBe(6)

    expect(overall.max, "no two sessions ever ran at once").toBeGreaterThan(1)
    expect(overall.max).toBeLessThanOrEqual(4)
    for (const [conversation, max] of maxPerConversation) expect(max, `${conversation} ran two turns at once`).toBe(1)

    // Each work chat's memory is its own directory; the status and the CLI list the four sessions.
    expect(existsSync(join(daemon.stateDir, "sessions", "work", "http%3Aw1", "current"))).toBe(true)
    const status = await daemon.json<{ sessions: ReadonlyArray<{ key: string; scope: string; turns: number; queued: number }> }>("/status")
    expect(status.body.sessions.map((s) => `${s.key} ${s.scope} ${s.turns}`).sort()).toEqual([
      "home/shared shared 6",
      "work/http:w1 per-chat 2",
      "work/http:w2 per-chat 2",
      "work/http:w3 per-chat 2"
    ])
    const cli = await runCli(["sessions"], { SWITCHBOARD_URL: daemon.url })
    expect(cli.code).toBe(0)
    expect(cli.stdout).toMatch(/^home\/shared\s+shared\s+queued 0\s+idle\s+last Replied/m)
    expect(cli.stdout).toMatch(/^work\/http:w2\s+per-chat/m)
    const metrics = await (await daemon.fetch("/metrics")).text()
    expect(metrics).toMatch(/^switchboard_agent_turns_total\{(?=[^}]*agent="home")(?=[^}]*outcome="Replied")[^}]*\} 6$/m)
    expect(metrics).toMatch(/^switchboard_agent_turns_total\{(?=[^}]*agent="work")(?=[^}]*outcome="Replied")[^}]*\} 6$/m)
    expect(metrics).not.toMatch(/http:w1/)
  }, 60_000)

  it("a relay of system events runs in the session that owns their chat", async () => {
    const posted = await daemon.post("/v1/system-events", { sessionKey: "http:w2", text: "build 7 finished" })
    expect(posted.status).toBe(202)
    const relay = await awaitInbox(daemon, "http:w2", (m) => m.kind === "relay", 20_000)
    // The work agent, in http:w2's own conversation (its third message there).
    expect(relay.text).toMatch(/^work-model first=http:w2 n=3: /)
  }, 30_000)

  it("each agent talks with its own key (never in the log or /status), system prompt and tools", async () => {
    const work = fake.requests.filter((r) => r.model === "work-model")
    const home = fake.requests.filter((r) => r.model === "home-model")
    expect(work.length).toBeGreaterThan(0)
    expect(home.length).toBeGreaterThan(0)
    for (const r of work) expect(r.headers["authorization"]).toBe("Bearer sk-work-0123456789")
    for (const r of home) expect(r.headers["authorization"]).toBe("Bearer sk-home-0123456789")
    for (const r of home) expect(textOf(r.messages[0]!)).toBe("You are the family's agent.")
    for (const r of work) expect(textOf(r.messages[0]!)).not.toBe("You are the family's agent.")
    expect([...new Set(home.map((r) => [...r.tools].sort().join(",")))]).toEqual(["ask,notify"])
    expect([...new Set(work.map((r) => [...r.tools].sort().join(",")))]).toEqual(["ask,exec,notify"])
    const status = await (await daemon.fetch("/status")).text()
    for (const key of ["sk-work-0123456789", "sk-home-0123456789"]) {
      expect(status).not.toContain(key)
      expect(daemon.lines.join("\n") + daemon.stderr.join("")).not.toContain(key)
    }
  })

  it("/new starts a fresh conversation for the session of the chat that sent it, and only that one", async () => {
    const posted = await daemon.post<{ id: string }>("/v1/messages", { text: "/new", source: "http:w1" })
    expect(posted.status).toBe(202)
    const done = await daemon.json<MessageRecord>(`/v1/messages/${encodeURIComponent(posted.body.id)}?wait=10`)
    expect(done.body.reply).toBe("Started a new conversation.")
    const ask = async (chat: string, text: string) => {
      const p = await daemon.post<{ id: string }>("/v1/messages", { text, source: chat })
      return (await eventually(async () => {
        const r = await daemon.json<MessageRecord>(`/v1/messages/${encodeURIComponent(p.body.id)}?wait=5`)
        return r.body.status === "done" ? r.body : undefined
      }, 20_000)).reply
    }
    expect(await ask("http:w1", "again")).toBe("work-model first=http:w1 n=1: again")
    expect(await ask("http:w3", "still")).toBe("work-model first=http:w3 n=3: still")
  }, 30_000)

  it("a source no agent is bound to is refused with 403 unbound_source, its messages and its system events", async () => {
    const refused = await daemon.post<{ error: { code: string; message: string } }>("/v1/messages", { text: "hi", source: "cli:stranger" })
    expect(refused.status).toBe(403)
    expect(refused.body.error.code).toBe("unbound_source")
    expect(refused.body.error.message).toBe("no agent is bound to cli:stranger")
    // A system event for it would never be relayed: refused the same way.
    const event = await daemon.post<{ error: { code: string } }>("/v1/system-events", { sessionKey: "cli:stranger", text: "done" })
    expect(event.status).toBe(403)
    expect(event.body.error.code).toBe("unbound_source")
  })
})

describe("a source no agent is bound to, on the bus", () => {
  // DB 13: this file's own (see test/support/redis.ts).
  it("a bus message or system event for an unbound source is dead-lettered with code unbound; a bound one is answered", async () => {
    const bus = await connectBus(redisUrl(13))
    const dir = mkdtempSync(join(tmpdir(), "switchboard-agents-"))
    const file = join(dir, "agents.json")
    writeFileSync(file, JSON.stringify({ agents: [{ name: "ops", bindings: ["redis:deploys", "http:*"] }] }))
    const daemon = await startDaemon({ env: { REDIS_URL: bus.url, SWITCHBOARD_AGENTS_FILE: file, SWITCHBOARD_REDIS_BLOCK: "500 millis" } })
    try {
      const stray = await bus.publish({ type: "message", source: "redis:other", text: "anyone?", id: "s-1" })
      const strayEvent = await bus.publish({ type: "system-event", sessionKey: "redis:other", text: "done" })
      await bus.publish({ type: "message", source: "redis:deploys", text: "deployed", id: "d-1" })
      const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:deploys~d-1")
      expect(reply.fields["text"]).toBe("echo: deployed")
      const dead = await bus.waitDead(2)
      expect(dead.map((d) => [d.fields["streamId"], d.fields["code"], d.fields["reason"]])).toEqual([
        [stray, "unbound", "no agent is bound to redis:other"],
        [strayEvent, "unbound", "no agent is bound to redis:other"]
      ])
    } finally {
      await daemon.stop()
      await bus.close()
      rmSync(daemon.stateDir, { recursive: true, force: true })
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
