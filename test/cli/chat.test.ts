// `switchboard chat` as a person uses it: type a message, see the agent's question arrive as a
// numbered list, type the number, see the agent's answer — against the built daemon.
import { afterEach, describe, expect, it } from "vitest"
import { freePort, startChat, startDaemon } from "../support/daemon.ts"
import { startFakeChatCompletions } from "../support/fakeChatCompletions.ts"

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

    const { chat, output, seen, exited } = startChat(daemon.url, "cli:tester")
    cleanup.push(async () => chat.kill())

    chat.stdin.write("deploy please\n")
    await seen("Where to?")
    expect(output.out).toMatch(/1\. production/)
    expect(output.out).toMatch(/2\. staging/)
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
