// The agent end to end on the BUILT daemon (dist/main.js) with SWITCHBOARD_MODEL_PROVIDER=openai
// against the scripted fake chat-completions server, driven only through the HTTP contract and
// the CLI: memory survives a restart (and /new forgets), exec completions reach the chat that
// started them, provider failures are told to the person, and the API key stays secret.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, runCli, startDaemon, type StartOptions } from "../support/daemon.ts"
import { type FakeChatCompletions, type RecordedRequest, startFakeChatCompletions } from "../support/fakeChatCompletions.ts"

const NODE = process.execPath
/**
 * A "build" that prints `built` once the file `gate` exists (a signal from the test instead of a
 * fixed sleep, so "bob talks while the job runs" holds however slow the machine is).
 */
const buildArgv = (gate: string) => [
  NODE,
  "-e",
  "const t = setInterval(() => { if (require('fs').existsSync(process.argv[1])) { clearInterval(t); console.log('built') } }, 20)",
  gate
]

/** Everything started by a test, stopped after it whatever happened. */
const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

const fakeModel = async (): Promise<FakeChatCompletions> => {
  const fake = await startFakeChatCompletions()
  cleanup.push(() => fake.close())
  return fake
}

const agentEnv = (fake: FakeChatCompletions, extra: Record<string, string> = {}): Record<string, string> => ({
  SWITCHBOARD_MODEL_PROVIDER: "openai",
  OPENAI_BASE_URL: fake.url,
  SWITCHBOARD_MODEL: "test-model",
  ...extra
})

const daemon = async (options: StartOptions): Promise<Daemon> => {
  const d = await startDaemon(options)
  cleanup.push(async () => {
    await d.stop()
    if (options.stateDir === undefined) rmSync(d.stateDir, { recursive: true, force: true })
  })
  return d
}

interface MessageRecord {
  readonly id: string
  readonly status: "queued" | "running" | "done" | "failed"
  readonly reply?: string
  readonly error?: string
}

/** POST a message and long-poll its record until it is done or failed. */
const converse = async (d: Daemon, source: string, text: string): Promise<MessageRecord> => {
  const posted = await d.post<{ id: string }>("/v1/messages", { text, source })
  expect(posted.status).toBe(202)
  return eventually(async () => {
    const r = await d.json<MessageRecord>(`/v1/messages/${posted.body.id}?wait=5`)
    return r.body.status === "done" || r.body.status === "failed" ? r.body : undefined
  }, 15_000)
}

interface InboxMessage {
  readonly seq: number
  readonly kind: string
  readonly requestId?: string
  readonly text: string
}

const inbox = async (d: Daemon, source: string): Promise<ReadonlyArray<InboxMessage>> =>
  (await d.json<{ messages: ReadonlyArray<InboxMessage> }>(`/v1/inbox/${source}`)).body.messages

/** The text of a chat message (string or content parts). */
const textOf = (m: RecordedRequest["messages"][number]): string =>
  typeof m.content === "string"
    ? m.content
    : Array.isArray(m.content)
    ? (m.content as ReadonlyArray<{ text?: string }>).map((p) => p.text ?? "").join("")
    : ""

const userTexts = (r: RecordedRequest) => r.messages.filter((m) => m.role === "user").map(textOf)
const lastUser = (r: RecordedRequest) => userTexts(r).at(-1) ?? ""

describe("agent on the built daemon: memory", () => {
  it("a restart on the same state dir resumes the conversation; /new starts a fresh one", async () => {
    const fake = await fakeModel()
    fake.setDefault((r) => {
      const said = lastUser(r)
      if (said.includes("my name is Alice")) return { text: "Nice to meet you, Alice." }
      if (said.includes("favourite number is 42")) return { text: "Noted: 42." }
      return { text: "Sure." }
    })
    const first = await daemon({ env: agentEnv(fake) })
    expect((await converse(first, "http:alice", "my name is Alice")).reply).toBe("Nice to meet you, Alice.")
    expect((await converse(first, "http:alice", "my favourite number is 42")).reply).toBe("Noted: 42.")
    expect(await first.stop("SIGTERM")).toBe(0)

    const second = await daemon({ env: agentEnv(fake), stateDir: first.stateDir })
    expect((await converse(second, "http:alice", "what do you know about me?")).reply).toBe("Sure.")
    const resumed = fake.requests.at(-1)!
    // The earlier turns, in order, before the new message (the system prompt first).
    const dialogue = resumed.messages.filter((m) => m.role === "user" || m.role === "assistant").map((m) => [m.role, textOf(m)])
    expect(resumed.messages[0]!.role).toBe("system")
    expect(dialogue).toHaveLength(5)
    expect(dialogue.map(([role]) => role)).toEqual(["user", "assistant", "user", "assistant", "user"])
    expect(dialogue[0]![1]).toMatch(/chat: http:alice[\s\S]*my name is Alice$/)
    expect(dialogue[1]![1]).toBe("Nice to meet you, Alice.")
    expect(dialogue[2]![1]).toMatch(/my favourite number is 42$/)
    expect(dialogue[3]![1]).toBe("Noted: 42.")
    expect(dialogue[4]![1]).toMatch(/what do you know about me\?$/)

    const fresh = await converse(second, "http:alice", "/new")
    expect(fresh).toMatchObject({ status: "done", reply: "Started a new conversation." })
    const requestsBefore = fake.requests.length
    await converse(second, "http:alice", "hello again")
    expect(fake.requests.length).toBe(requestsBefore + 1)
    const afterNew = fake.requests.at(-1)!
    expect(afterNew.messages.map((m) => m.role)).toEqual(["system", "user"])
    expect(lastUser(afterNew)).toMatch(/hello again$/)
    expect(JSON.stringify(afterNew.messages)).not.toMatch(/Alice|42/)
  }, 30_000)
})

describe("agent on the built daemon: exec", () => {
  it("a job started by http:alice is relayed into alice's inbox, never bob's; `switchboard jobs` lists it; a disallowed program is a clear tool error", async () => {
    const fake = await fakeModel()
    let gate = ""
    fake.setDefault((r) => {
      const said = lastUser(r)
      const last = r.messages.at(-1)!
      if (last.role === "tool") {
        return { text: /not an allowed program|refused|error/i.test(textOf(last)) ? "I may not run that." : "Started the build." }
      }
      if (said.includes("exec finished")) {
        const m = /exec finished \(exit (\d+)\): (\w+)/.exec(said)
        return { text: `Build done (exit ${m?.[1]}): ${m?.[2]}` }
      }
      if (said.includes("build please")) return { toolCalls: [{ name: "exec", args: { command: buildArgv(gate) } }] }
      if (said.includes("wipe the disk")) return { toolCalls: [{ name: "exec", args: { command: ["/bin/echo", "rm", "-rf", "/"] } }] }
      return { text: said.includes("chat: http:bob") ? "hi bob" : "ok" }
    })
    const d = await daemon({
      env: agentEnv(fake, {
        SWITCHBOARD_EXEC_ALLOW: NODE,
        SWITCHBOARD_EXEC_FORCE: NODE, // an interpreter: allowed on purpose
        SWITCHBOARD_EXEC_APPROVAL: "never",
        SWITCHBOARD_HEARTBEAT_COALESCE: "50 millis"
      })
    })
    // Outside the state dir: a sandboxed job does not see that one.
    const gates = mkdtempSync(join(tmpdir(), "switchboard-gate-"))
    cleanup.push(async () => rmSync(gates, { recursive: true, force: true }))
    gate = join(gates, "build-may-finish")

    expect(await converse(d, "http:alice", "build please")).toMatchObject({ status: "done", reply: "Started the build." })
    // bob talks while the job runs
    expect(await converse(d, "http:bob", "hello")).toMatchObject({ status: "done", reply: "hi bob" })
    const running = await d.json<{ jobs: ReadonlyArray<{ id: string; state: string; sessionKey: string }> }>("/v1/jobs")
    expect(running.body.jobs).toHaveLength(1)
    expect(running.body.jobs[0]).toMatchObject({ sessionKey: "http:alice", state: "running" })
    const jobId = running.body.jobs[0]!.id
    expect(await inbox(d, "http:alice")).toHaveLength(1)
    writeFileSync(gate, "go")

    // The relay arrives in alice's inbox (long poll), as kind "relay".
    const seen = (await inbox(d, "http:alice")).at(-1)!.seq
    const relayed = await eventually(async () => {
      const r = await d.json<{ messages: ReadonlyArray<InboxMessage> }>(`/v1/inbox/http:alice?after=${seen}&wait=5`)
      return r.body.messages.find((m) => m.kind === "relay")
    }, 15_000)
    expect(relayed.text).toBe("Build done (exit 0): built")
    expect((await inbox(d, "http:alice")).map((m) => [m.kind, m.text])).toEqual([
      ["reply", "Started the build."],
      ["relay", "Build done (exit 0): built"]
    ])
    expect((await inbox(d, "http:bob")).map((m) => [m.kind, m.text])).toEqual([["reply", "hi bob"]])

    // The model saw the completion as a relay for alice's chat.
    const relayRequest = fake.requests.find((r) => lastUser(r).includes("exec finished"))!
    expect(lastUser(relayRequest)).toMatch(/chat: http:alice/)
    expect(lastUser(relayRequest)).toMatch(/relay of system events for http:alice/)
    expect(lastUser(relayRequest)).toMatch(/exec finished \(exit 0\): built/)

    const cli = await runCli(["jobs"], { SWITCHBOARD_URL: d.url })
    expect(cli.code).toBe(0)
    const line = cli.stdout.split("\n").find((l) => l.startsWith(jobId))
    expect(line).toBeDefined()
    expect(line).toMatch(/exited\s+exit 0\s+http:alice\s/)
    expect(line).toContain(gate)

    // A program that is not on the allow list: the model gets a tool error that says so.
    expect(await converse(d, "http:alice", "wipe the disk")).toMatchObject({ status: "done", reply: "I may not run that." })
    const refusal = fake.requests.at(-1)!.messages.at(-1)!
    expect(refusal.role).toBe("tool")
    expect(textOf(refusal)).toMatch(/not an allowed program/)
    expect(textOf(refusal)).toContain("/bin/echo")
    expect((await d.json<{ jobs: ReadonlyArray<unknown> }>("/v1/jobs")).body.jobs).toHaveLength(1)
  }, 30_000)
})

describe("agent on the built daemon: provider failure", () => {
  it("every request answered 500 → the message ends failed with a short clear error, and the inbox has kind error", async () => {
    const fake = await fakeModel()
    fake.setDefault({ status: 500 })
    const d = await daemon({
      env: agentEnv(fake, { SWITCHBOARD_MODEL_ATTEMPTS: "2", SWITCHBOARD_MODEL_RETRY_DELAY: "20 millis", SWITCHBOARD_MODEL_RETRY_MAX_DELAY: "50 millis" })
    })
    const failed = await converse(d, "http:carol", "are you there?")
    expect(failed.status).toBe("failed")
    expect(failed.error).toMatch(/^The model is unavailable; it failed after 2 attempts\. Please try again later\.$/)
    expect(fake.requests).toHaveLength(2)

    const messages = await inbox(d, "http:carol")
    const error = messages.find((m) => m.kind === "error")
    expect(error).toMatchObject({ requestId: failed.id, text: failed.error })
    // Told while waiting, too: one retry notice, before the error.
    expect(messages.map((m) => m.kind)).toEqual(["notify", "error"])
    expect(messages[0]!.text).toMatch(/unavailable right now; I will retry/)

    // The daemon carries on once the model is back.
    fake.setDefault({ text: "back again" })
    expect(await converse(d, "http:carol", "and now?")).toMatchObject({ status: "done", reply: "back again" })
  }, 30_000)
})

describe("agent on the built daemon: secrets", () => {
  it("OPENAI_API_KEY is sent as a bearer token and never appears in logs or /status", async () => {
    const SECRET = "sk-test-secret"
    const fake = await fakeModel()
    // An auth failure first: its error is logged, and must not carry the key.
    fake.script({ status: 401, body: JSON.stringify({ error: { message: "bad key", type: "invalid_request_error" } }) })
    fake.setDefault({ text: "hello" })
    const d = await daemon({ env: agentEnv(fake, { OPENAI_API_KEY: SECRET, SWITCHBOARD_LOG_LEVEL: "Debug" }) })

    const rejected = await converse(d, "http:dave", "first")
    expect(rejected).toMatchObject({ status: "failed", error: expect.stringMatching(/OPENAI_API_KEY/) })
    expect(await converse(d, "http:dave", "second")).toMatchObject({ status: "done", reply: "hello" })
    expect(fake.requests.length).toBeGreaterThanOrEqual(2)
    for (const r of fake.requests) expect(r.headers.authorization).toBe(`Bearer ${SECRET}`)

    const status = await d.fetch("/status")
    expect(status.status).toBe(200)
    expect(await status.text()).not.toContain(SECRET)
    expect(await (await d.fetch("/health")).text()).not.toContain(SECRET)
    expect(await (await d.fetch("/metrics")).text()).not.toContain(SECRET)

    expect(await d.stop("SIGTERM")).toBe(0)
    expect(d.lines.length).toBeGreaterThan(0)
    expect(d.lines.filter((l) => l.includes(SECRET))).toEqual([])
    expect(d.stderr.join("")).not.toContain(SECRET)
    // Nor in what the daemon left on disk (daemon.json, conversation files).
    const files = readdirSync(d.stateDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile())
    expect(files.length).toBeGreaterThan(0)
    for (const f of files) expect(readFileSync(join(f.parentPath, f.name), "utf8")).not.toContain(SECRET)
  }, 30_000)
})

describe("built daemon: a restart keeps the queue", () => {
  it("messages still queued at SIGTERM and the turn cut off by it are answered after the restart, in order", async () => {
    const fake = await fakeModel()
    let longJobs = 0
    fake.setDefault((r) => {
      const said = lastUser(r)
      // The first run of the long job outlives the shutdown grace, so everything behind it is still queued.
      if (said.endsWith("long job")) return ++longJobs === 1 ? { delayMs: 5_000, text: "too late" } : { text: "long job done" }
      return { text: `answer to ${said.split("\n").at(-1)}` }
    })
    const env = agentEnv(fake, { SWITCHBOARD_SHUTDOWN_GRACE: "200 millis" })
    const first = await daemon({ env })
    expect((await first.post("/v1/messages", { text: "long job", source: "http:alice" })).status).toBe(202)
    await eventually(async () => (fake.requests.length >= 1 ? true : undefined))
    for (const text of ["one", "two"]) {
      expect((await first.post("/v1/messages", { text, source: "http:bob" })).status).toBe(202)
    }
    expect(await first.stop("SIGTERM")).toBe(0)

    const second = await daemon({ env, stateDir: first.stateDir })
    const bob = await eventually(async () => {
      const messages = await inbox(second, "http:bob")
      return messages.length >= 2 ? messages : undefined
    }, 15_000)
    expect(second.lines.some((l) => l.includes("queued 3 request(s) kept from the last run"))).toBe(true)
    expect(bob.map((m) => [m.kind, m.text])).toEqual([["reply", "answer to one"], ["reply", "answer to two"]])
    // The cut-off turn ran again (nothing was said to alice at the stop) and was answered once.
    expect((await inbox(second, "http:alice")).map((m) => [m.kind, m.text])).toEqual([["reply", "long job done"]])
    expect(longJobs).toBe(2)
  }, 40_000)
})
