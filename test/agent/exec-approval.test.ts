// Approval before a job runs (SWITCHBOARD_EXEC_APPROVAL=ask, the default), on the BUILT daemon:
// the exact argv is shown in the chat the request came from, with Approve / Deny buttons on
// Telegram and a numbered choice in an HTTP inbox; the job starts only on Approve, and the tool
// result says "denied" or "no answer" otherwise. SWITCHBOARD_EXEC_AUTO skips the question.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, startDaemon, type StartOptions } from "../support/daemon.ts"
import { awaitInbox, converse, lastUser, textOf } from "../support/daemonDriver.ts"
import { callbackUpdate, fakeBotApi, textUpdate } from "../support/fakeBotApi.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "../support/fakeChatCompletions.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

const daemon = async (options: StartOptions): Promise<Daemon> => {
  const d = await startDaemon(options)
  cleanup.push(async () => {
    await d.stop()
    rmSync(d.stateDir, { recursive: true, force: true })
  })
  return d
}

const notes = () => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-approve-"))
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, "release notes.txt")
  writeFileSync(file, "v1.2 is ready\n")
  return file
}

/** "run" → exec `cat <file>`; a tool result is replied verbatim, a completion relayed verbatim. */
const model = async (file: string) => {
  const fake = await startFakeChatCompletions()
  cleanup.push(() => fake.close())
  fake.setDefault((r) => {
    const last = r.messages.at(-1)!
    if (last.role === "tool") return { text: `tool said: ${textOf(last)}` }
    const said = lastUser(r)
    const finished = /exec finished[^»]*/.exec(said)
    if (finished) return { text: finished[0] }
    if (said.includes("run")) return { toolCalls: [{ name: "exec", args: { command: ["cat", file] } }] }
    return { text: "ok" }
  })
  return fake
}

const env = (fake: FakeChatCompletions, extra: Record<string, string> = {}) => ({
  SWITCHBOARD_MODEL_PROVIDER: "openai",
  OPENAI_BASE_URL: fake.url,
  SWITCHBOARD_EXEC_ALLOW: "cat",
  SWITCHBOARD_HEARTBEAT_COALESCE: "20 millis",
  ...extra
})

const jobs = async (d: Daemon) => (await d.json<{ jobs: ReadonlyArray<{ argv: ReadonlyArray<string> }> }>("/v1/jobs")).body.jobs

describe("exec asks the chat before it runs anything", () => {
  it("HTTP: the argv appears in the inbox as a numbered choice; Approve runs it, Deny and silence do not", async () => {
    const file = notes()
    const fake = await model(file)
    const d = await daemon({ env: env(fake, { SWITCHBOARD_ASK_TIMEOUT: "1 second" }) })

    // Approve (answered through POST /v1/answers/:id)
    const posted = await d.post<{ id: string }>("/v1/messages", { text: "run it", source: "http:ops" })
    const asked = await awaitInbox(d, "http:ops", (m) => m.kind === "ask")
    expect(asked.text).toContain(`cat '${file}'`)
    expect(asked.question!.options).toEqual(["Approve", "Deny"])
    expect(await jobs(d)).toEqual([]) // nothing runs while the chat decides
    expect((await d.post(`/v1/answers/${asked.question!.id}`, { answer: "1" })).status).toBe(200)
    const approved = await d.json(`/v1/messages/${posted.body.id}?wait=10`)
    expect(approved.body.reply).toMatch(/^tool said: .*"jobId":"job-/)
    const relay = await awaitInbox(d, "http:ops", (m) => m.kind === "relay")
    expect(relay.text).toBe("exec finished (exit 0): v1.2 is ready")
    expect((await jobs(d)).map((j) => j.argv)).toEqual([["cat", file]])

    // Deny (answered by the chat's next message, as a person would)
    const second = await d.post<{ id: string }>("/v1/messages", { text: "run it again", source: "http:ops" })
    await awaitInbox(d, "http:ops", (m) => m.kind === "ask" && m.seq > asked.seq)
    await d.post("/v1/messages", { text: "2", source: "http:ops" })
    const denied = await d.json(`/v1/messages/${second.body.id}?wait=10`)
    expect(denied.body.reply).toMatch(/^tool said: .*denied: http:ops did not approve running it/)

    // No answer within SWITCHBOARD_ASK_TIMEOUT
    expect((await converse(d, "http:ops", "run it once more")).reply).toMatch(/^tool said: .*no answer: nobody in http:ops approved it within 1s; it did not run/)
    expect(await jobs(d)).toHaveLength(1)
  }, 40_000)

  it("SWITCHBOARD_EXEC_AUTO: a listed program (or program and leading arguments) runs without a question", async () => {
    const file = notes()
    const fake = await model(file)
    const d = await daemon({ env: env(fake, { SWITCHBOARD_EXEC_AUTO: "git status, cat" }) })
    expect((await converse(d, "http:ops", "run it")).reply).toMatch(/^tool said: .*"jobId":"job-/)
    const relay = await awaitInbox(d, "http:ops", (m) => m.kind === "relay")
    expect(relay.text).toBe("exec finished (exit 0): v1.2 is ready")
    expect((await d.json("/v1/inbox/http:ops")).body.messages.filter((m: { kind: string }) => m.kind === "ask")).toEqual([])
  }, 30_000)

  it("Telegram: Approve / Deny buttons under the exact argv in the chat that asked; Approve runs it there", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const file = notes()
      const fake = yield* Effect.promise(() => model(file))
      const bot = yield* fakeBotApi
      const d = yield* Effect.promise(() =>
        daemon({
          env: env(fake, {
            TELEGRAM_BOT_TOKEN: bot.token,
            TELEGRAM_API_ROOT: bot.url,
            TELEGRAM_ALLOWED_CHAT_IDS: "111",
            TELEGRAM_POLL_TIMEOUT: "2 seconds"
          })
        })
      )
      bot.push(textUpdate(111, "run it"))
      yield* bot.waitFor("the approval question", () => bot.callsOf("sendMessage", 111).some((c) => c.payload["reply_markup"]), 15_000)
      const question = bot.callsOf("sendMessage", 111).find((c) => c.payload["reply_markup"])!
      expect(question.payload["text"]).toContain(`cat '${file}'`)
      const keyboard = question.payload["reply_markup"].inline_keyboard as Array<Array<{ text: string; callback_data: string }>>
      expect(keyboard.map((row) => row[0]!.text)).toEqual(["Approve", "Deny"])
      expect(yield* Effect.promise(() => jobs(d))).toEqual([])
      const sent = { message_id: 1, date: 0, chat: { id: 111, type: "private" }, text: question.payload["text"] }
      bot.push(callbackUpdate(111, sent, keyboard[0]![0]!.callback_data))
      yield* bot.waitFor("the relay", () => bot.texts(111).some((t) => t.includes("exec finished (exit 0): v1.2 is ready")), 15_000)
      expect(bot.texts(111).some((t) => /tool said: .*jobId/.test(t))).toBe(true)
    }))), 40_000)
})
