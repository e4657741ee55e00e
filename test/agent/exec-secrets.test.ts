// An agent told to `exec` cannot read the daemon's secrets: on the BUILT daemon, a job that reads
// /proc/<daemon pid>/environ finds nothing (it runs in its own PID namespace), secrets may come
// from files instead of the environment, and whatever a job prints is scrubbed of every secret
// before it reaches GET /v1/jobs, the chat, the conversation file or the model.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, startDaemon, type StartOptions } from "../support/daemon.ts"
import { awaitInbox, converse, lastUser } from "../support/daemonDriver.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "../support/fakeChatCompletions.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

const TOKEN = "api-token-for-exec-tests-0123456789"
const MODEL_KEY = "sk-exec-test-model-key-abcdef0123456789"
const DEPLOY_TOKEN = "deploy-token-the-daemon-holds-9876543210"

const hasBwrap = () => ["/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"].some(existsSync)

const fakeModel = async (): Promise<FakeChatCompletions> => {
  const fake = await startFakeChatCompletions()
  cleanup.push(() => fake.close())
  return fake
}

const daemon = async (options: StartOptions): Promise<Daemon> => {
  const d = await startDaemon(options)
  cleanup.push(async () => {
    await d.stop()
    if (options.stateDir === undefined) rmSync(d.stateDir, { recursive: true, force: true })
  })
  return d
}

/** The model runs `argv(text)` when told "run …", and relays a completion back verbatim. */
const execModel = (fake: FakeChatCompletions, argvFor: (said: string) => ReadonlyArray<string>) =>
  fake.setDefault((r) => {
    const said = lastUser(r)
    if (r.messages.at(-1)!.role === "tool") return { text: "started" }
    // The event as the relay prompt shows it (quoted, continuation lines indented), unquoted again.
    const finished = /exec finished[^»]*/.exec(said)
    if (finished) return { text: finished[0].replace(/\n {4}/g, "\n") }
    if (said.includes("run ")) return { toolCalls: [{ name: "exec", args: { command: argvFor(said) } }] }
    return { text: "ok" }
  })

const agentEnv = (fake: FakeChatCompletions, extra: Record<string, string>): Record<string, string> => ({
  SWITCHBOARD_MODEL_PROVIDER: "openai",
  OPENAI_BASE_URL: fake.url,
  SWITCHBOARD_MODEL: "test-model",
  SWITCHBOARD_EXEC_ALLOW: "cat",
  SWITCHBOARD_EXEC_APPROVAL: "never",
  SWITCHBOARD_HEARTBEAT_COALESCE: "20 millis",
  ...extra
})

/** Everything a user or the provider could see of the job: jobs, inbox, model requests, conversation files. */
const everythingSeen = async (d: Daemon, fake: FakeChatCompletions) => {
  const jobs = JSON.stringify((await d.json("/v1/jobs")).body)
  const inbox = JSON.stringify((await d.json("/v1/inbox/http:alice")).body)
  const model = JSON.stringify(fake.requests.map((r) => r.body))
  const dir = join(d.stateDir, "conversations")
  const memory = existsSync(dir) ? readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8")).join("\n") : ""
  return { jobs, inbox, model, memory }
}

describe("exec cannot read the daemon's secrets", () => {
  it("a job reading /proc/<daemon pid>/environ gets none of the daemon's secrets: not in GET /v1/jobs, the relay, the model's context or the conversation", async () => {
    const fake = await fakeModel()
    let pid = 0
    execModel(fake, () => ["cat", `/proc/${pid}/environ`])
    const d = await daemon({ token: TOKEN, env: agentEnv(fake, { OPENAI_API_KEY: MODEL_KEY, DEPLOY_TOKEN }) })
    pid = d.process.pid!
    expect(readFileSync(`/proc/${pid}/environ`, "utf8")).toContain(MODEL_KEY) // what there is to steal

    expect(await converse(d, "http:alice", "run it")).toMatchObject({ status: "done", reply: "started" })
    const relay = await awaitInbox(d, "http:alice", (m) => m.kind === "relay")
    expect(relay.text).toMatch(/^exec finished \(exit \d+\)/)
    const seen = await everythingSeen(d, fake)
    for (const secret of [MODEL_KEY, TOKEN, DEPLOY_TOKEN]) {
      for (const [where, text] of Object.entries(seen)) expect(text, `${where} holds a secret`).not.toContain(secret)
    }
    if (hasBwrap() || process.env["CI"] === "true") {
      // In the sandbox the daemon's process does not exist at all.
      expect((await d.json("/status")).body.jobs.sandbox).toBe("bwrap")
      expect(relay.text).toMatch(/^exec finished \(exit 1\): cat: .*No such file or directory/)
    }
  }, 30_000)

  it("secrets may come from files (OPENAI_API_KEY_FILE, systemd's $CREDENTIALS_DIRECTORY): used, and absent from the daemon's environment", async () => {
    const fake = await fakeModel()
    fake.setDefault({ text: "hi" })
    const secrets = mkdtempSync(join(tmpdir(), "switchboard-secrets-"))
    cleanup.push(async () => rmSync(secrets, { recursive: true, force: true }))
    writeFileSync(join(secrets, "model-key"), `${MODEL_KEY}\n`, { mode: 0o600 })
    const credentials = join(secrets, "credentials")
    mkdirSync(credentials)
    writeFileSync(join(credentials, "SWITCHBOARD_API_TOKEN"), TOKEN, { mode: 0o600 })

    const d = await daemon({
      token: TOKEN, // what the client sends; the daemon reads it from the credentials directory
      tokenInEnv: false,
      env: { ...agentEnv(fake, { OPENAI_API_KEY_FILE: join(secrets, "model-key"), CREDENTIALS_DIRECTORY: credentials }) }
    })
    expect(await converse(d, "http:alice", "hello")).toMatchObject({ status: "done", reply: "hi" })
    expect(fake.requests[0]!.headers["authorization"]).toBe(`Bearer ${MODEL_KEY}`)
    // The token from the credentials directory is enforced.
    expect((await fetch(`${d.url}/status`)).status).toBe(401)
    const environ = readFileSync(`/proc/${d.process.pid}/environ`, "utf8")
    expect(environ).not.toContain(MODEL_KEY)
    expect(environ).not.toContain(TOKEN)
  }, 30_000)

  it("a secret a job finds and prints is scrubbed before it is stored, relayed or shown to the model", async () => {
    const fake = await fakeModel()
    const notes = join(mkdtempSync(join(tmpdir(), "switchboard-notes-")), "notes.txt")
    cleanup.push(async () => rmSync(notes, { force: true }))
    writeFileSync(notes, `the key is ${MODEL_KEY}\nthe bot token is ${DEPLOY_TOKEN}!\n`)
    execModel(fake, () => ["cat", notes])
    const d = await daemon({ token: TOKEN, env: agentEnv(fake, { OPENAI_API_KEY: MODEL_KEY, DEPLOY_TOKEN }) })
    expect(await converse(d, "http:alice", "run it")).toMatchObject({ status: "done", reply: "started" })
    const relay = await awaitInbox(d, "http:alice", (m) => m.kind === "relay")
    expect(relay.text).toBe("exec finished (exit 0): the key is [redacted]\nthe bot token is [redacted]!")
    const seen = await everythingSeen(d, fake)
    for (const [where, text] of Object.entries(seen)) {
      expect(text, `${where} holds the key`).not.toContain(MODEL_KEY)
      expect(text, `${where} holds the token`).not.toContain(DEPLOY_TOKEN)
    }
    expect(seen.jobs).toContain("the key is [redacted]")
  }, 30_000)
})
