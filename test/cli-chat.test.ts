// `switchboard chat` as a person uses it: type a message, see the agent's question arrive as a
// numbered list, type the number, see the agent's answer — against the built daemon.
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { CLI, ROOT, startDaemon } from "./support/daemon.ts"

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

/** The chat CLI as a child process, with waits on what it prints. */
const startChat = (url: string, source: string) => {
  const chat = spawn(process.execPath, [CLI, "chat", "--as", source], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_URL: url },
    stdio: ["pipe", "pipe", "pipe"]
  })
  const output = { out: "", err: "" }
  const waiters: Array<() => void> = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  chat.stdout.on("data", (c: Buffer) => {
    output.out += c.toString("utf8")
    wake()
  })
  chat.stderr.on("data", (c: Buffer) => {
    output.err += c.toString("utf8")
    wake()
  })
  const seen = (text: string, stream: "out" | "err" = "out") =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`never printed ${JSON.stringify(text)}; got:\n${output.out}\n${output.err}`)), 15_000)
      const check = () => (output[stream].includes(text) ? (clearTimeout(timer), resolve()) : waiters.push(check))
      check()
    })
  const exited = new Promise<number | null>((resolve) => chat.on("exit", (code) => resolve(code)))
  return { chat, output, seen, exited }
}
import { startFakeChatCompletions } from "./support/fakeChatCompletions.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

describe("switchboard chat", () => {
  it("shows a question from the agent and sends the typed answer back to it", async () => {
    const fake = await startFakeChatCompletions()
    cleanup.push(() => fake.close())
    fake.setDefault((r) => {
      const last = r.messages.at(-1)!
      if (last.role === "tool") {
        const result = typeof last.content === "string" ? last.content : JSON.stringify(last.content)
        return { text: result.includes("staging") ? "Deploying to staging." : `Unexpected: ${result}` }
      }
      return { toolCalls: [{ name: "ask", args: { question: "Where to?", options: ["production", "staging"] } }] }
    })
    const daemon = await startDaemon({
      env: { SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: fake.url, SWITCHBOARD_MODEL: "test" }
    })
    cleanup.push(() => daemon.stop())

    const chat = spawn(process.execPath, [CLI, "chat", "--as", "cli:tester"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_URL: daemon.url },
      stdio: ["pipe", "pipe", "pipe"]
    })
    cleanup.push(async () => chat.kill())
    let out = ""
    const waiters: Array<() => void> = []
    chat.stdout.on("data", (c: Buffer) => {
      out += c.toString("utf8")
      for (const w of waiters.splice(0)) w()
    })
    const seen = (text: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`never printed ${JSON.stringify(text)}; got:\n${out}`)), 15_000)
        const check = () => (out.includes(text) ? (clearTimeout(timer), resolve()) : waiters.push(check))
        check()
      })
    const exited = new Promise<number | null>((resolve) => chat.on("exit", (code) => resolve(code)))

    chat.stdin.write("deploy please\n")
    await seen("Where to?")
    expect(out).toMatch(/1\. production/)
    expect(out).toMatch(/2\. staging/)
    chat.stdin.write("2\n")
    await seen("Deploying to staging.")
    chat.stdin.end()
    expect(await exited).toBe(0)
  })

  it("keeps showing replies across a daemon restart, saying it lost contact and reconnected", async () => {
    const port = String(await freePort())
    const first = await startDaemon({ env: { SWITCHBOARD_HTTP_PORT: port } })
    cleanup.push(() => first.stop())
    const { chat, seen, exited } = startChat(first.url, "cli:tester")
    cleanup.push(async () => chat.kill())
    chat.stdin.write("one\n")
    await seen("echo: one")
    expect(await first.stop()).toBe(0)
    await seen("lost contact with switchboard", "err")

    const second = await startDaemon({ env: { SWITCHBOARD_HTTP_PORT: port }, stateDir: first.stateDir })
    cleanup.push(() => second.stop())
    await seen("reconnected", "err")
    chat.stdin.write("two\n")
    await seen("echo: two")
    chat.stdin.end()
    expect(await exited).toBe(0)
  }, 30_000)
})
