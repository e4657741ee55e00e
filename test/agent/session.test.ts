// The agent in the core graph against the scripted fake: the tool loop, where replies and tool
// effects go, provider errors as the person sees them, and memory across turns.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Session } from "../../src/core/Session.ts"
import { agentCore } from "../support/agentCore.ts"
import { converse, eventually, inbox, say, finished, tempStateDir } from "../support/agentDriver.ts"
import { agentSettings, type Patch, type Recorded } from "../support/agentHarness.ts"
import { type FakeChatCompletions, fakeChatCompletions, type RecordedRequest } from "../support/fakeChatCompletions.ts"

const agent = (fake: FakeChatCompletions, dir: string, patch: Patch = (s) => s, recorded: Recorded = { events: [], wakes: [] }) =>
  agentCore(agentSettings(fake.url, dir, patch), recorded)

const lastToolMessages = (r: RecordedRequest) => r.messages.filter((m) => m.role === "tool")
const userTexts = (r: RecordedRequest) => r.messages.filter((m) => m.role === "user").map((m) => m.content ?? "")

describe("agent session: tool loop", () => {
  it.live("tool call → handler → result sent back → final text", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "notify", args: { text: "working on it" }, id: "n1" }] }, { text: "done!" })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "build it")
        assert.strictEqual(record.status, "done")
        assert.strictEqual(record.reply, "done!")
        const messages = yield* inbox("http:a")
        assert.deepStrictEqual(messages.map((m) => [m.kind, m.text]), [["notify", "working on it"], ["reply", "done!"]])
        assert.strictEqual(fake.requests.length, 2)
        const tool = lastToolMessages(fake.requests[1]!)
        assert.strictEqual(tool.length, 1)
        assert.strictEqual(tool[0]!.tool_call_id, "n1")
        assert.include(tool[0]!.content, "http:a")
        // The tools are offered with their contract names.
        assert.deepStrictEqual([...fake.requests[0]!.tools].sort(), ["ask", "exec", "notify"])
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("runs several tool calls from one response, in order", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script(
        { toolCalls: [{ name: "notify", args: { text: "first" } }, { name: "notify", args: { text: "second" } }] },
        { text: "both sent" }
      )
      yield* Effect.gen(function*() {
        yield* converse("http:a", "two please")
        const messages = yield* inbox("http:a")
        assert.deepStrictEqual(messages.map((m) => m.text), ["first", "second", "both sent"])
        assert.strictEqual(lastToolMessages(fake.requests[1]!).length, 2)
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("the step limit ends the turn with a clear message", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.setDefault({ toolCalls: [{ name: "notify", args: { text: "again" } }] })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "loop forever")
        assert.strictEqual(record.status, "failed")
        assert.strictEqual(fake.requests.length, 3)
        const last = (yield* inbox("http:a")).at(-1)!
        assert.strictEqual(last.kind, "error")
        assert.include(last.text, "stopped after 3 tool steps")
      }).pipe(Effect.provide(agent(fake, dir, (s) => ({ ...s, model: { ...s.model, maxSteps: 3 } }))))
    }))

  it.live("a tool failure goes back to the model as a result; the turn carries on", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "notify", args: { text: "psst", target: "nowhere:1" } }] }, { text: "could not" })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "tell nowhere")
        assert.strictEqual(record.reply, "could not")
        assert.include(lastToolMessages(fake.requests[1]!)[0]!.content, "no channel can deliver")
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("a tool call with wrong parameters goes back to the model as an error; the turn carries on", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      // Small local models often get a parameter name wrong.
      fake.script(
        { toolCalls: [{ name: "notify", args: { message: "hi" }, id: "bad1" }] },
        { toolCalls: [{ name: "notify", args: { text: "hi" } }] },
        { text: "sent it" }
      )
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "say hi")
        assert.strictEqual(record.reply, "sent it")
        const toolResult = lastToolMessages(fake.requests[1]!)
        assert.strictEqual(toolResult[0]!.tool_call_id, "bad1")
        assert.include(toolResult[0]!.content, "text")
        const messages = yield* inbox("http:a")
        assert.deepStrictEqual(messages.map((m) => [m.kind, m.text]), [["notify", "hi"], ["reply", "sent it"]])
      }).pipe(Effect.provide(agent(fake, dir)))
    }))
})

describe("agent session: routing", () => {
  it.live("a slow turn's notify and reply reach its own source only; one model request at a time", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      // Answer by the source in the header, so each turn's script is its own whatever the order.
      fake.setDefault((r) => {
        const last = userTexts(r).at(-1) ?? ""
        const fromA = last.includes("chat: http:a")
        const hasTool = r.messages.at(-1)?.role === "tool"
        if (fromA && !hasTool) return { delayMs: 300, toolCalls: [{ name: "notify", args: { text: "a: halfway" } }] }
        if (fromA) return { delayMs: 200, text: "a: finished" }
        return { text: last.includes("chat: http:b") ? "hello b" : "hello cli" }
      })
      yield* Effect.gen(function*() {
        const a = yield* say("http:a", "slow job")
        yield* eventually(Effect.map(Effect.sync(() => fake.requests.length), (n) => (n > 0 ? n : undefined)))
        const b = yield* say("http:b", "hi from b")
        const c = yield* say("cli:local", "hi from cli")
        for (const id of [a, b, c]) yield* finished(id)
        assert.deepStrictEqual((yield* inbox("http:a")).map((m) => [m.kind, m.text]), [["notify", "a: halfway"], ["reply", "a: finished"]])
        assert.deepStrictEqual((yield* inbox("http:b")).map((m) => m.text), ["hello b"])
        assert.deepStrictEqual((yield* inbox("cli:local")).map((m) => m.text), ["hello cli"])
        assert.strictEqual(fake.maxInFlight(), 1)
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("the channel header names the channel, chat and what it renders", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      yield* converse("cli:local", "hello").pipe(Effect.provide(agent(fake, dir)))
      const first = userTexts(fake.requests[0]!)[0]!
      assert.match(first, /^\[channel: cli · chat: cli:local · renders: [^\]]+\]\nhello$/)
      assert.strictEqual(fake.requests[0]!.messages[0]!.role, "system")
    }))
})

describe("agent session: provider errors as the person sees them", () => {
  it.live("429 with retry-after: told we will retry, then the answer", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ status: 429, headers: { "retry-after-ms": "200" } }, { text: "here you go" })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "hi")
        assert.strictEqual(record.reply, "here you go")
        const texts = (yield* inbox("http:a")).map((m) => [m.kind, m.text])
        assert.deepStrictEqual(texts, [["notify", "The model is rate limited right now; I will retry in a moment."], ["reply", "here you go"]])
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("500s until the attempts run out: a short clear error, not silence", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.setDefault({ status: 500 })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "hi")
        assert.strictEqual(record.status, "failed")
        const last = (yield* inbox("http:a")).at(-1)!
        assert.strictEqual(last.kind, "error")
        assert.strictEqual(last.text, "The model is unavailable; it failed after 3 attempts. Please try again later.")
        // The next request's history still alternates user / assistant (strict chat templates
        // refuse two user messages in a row): the unanswered message is remembered as unanswered.
        fake.setDefault({ text: "back" })
        yield* converse("http:a", "hello again")
        const roles = fake.requests.at(-1)!.messages.map((m) => m.role)
        assert.deepStrictEqual(roles, ["system", "user", "assistant", "user"])
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("a failure in a later step reports that step's attempts, not the whole turn's", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script(
        { status: 500 },
        { toolCalls: [{ name: "notify", args: { text: "working" } }] },
        { status: 500 },
        { status: 500 },
        { status: 500 }
      )
      yield* Effect.gen(function*() {
        yield* converse("http:a", "go")
        const last = (yield* inbox("http:a")).at(-1)!
        assert.strictEqual(last.text, "The model is unavailable; it failed after 3 attempts. Please try again later.")
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  it.live("malformed JSON: a clear error, and the next message works", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ malformed: true }, { text: "better now" })
      yield* Effect.gen(function*() {
        const bad = yield* converse("http:a", "hi")
        assert.strictEqual(bad.status, "failed")
        assert.strictEqual((yield* inbox("http:a")).at(-1)!.text, "The model sent an answer I could not read. Please try again.")
        const good = yield* converse("http:a", "again")
        assert.strictEqual(good.reply, "better now")
      }).pipe(Effect.provide(agent(fake, dir)))
    }))
})

describe("agent session: memory", () => {
  it.live("earlier turns are sent with the next request; /new starts fresh and keeps the old file", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ text: "nice to meet you" }, { text: "you are Ada" }, { text: "who?" })
      const { readdirSync } = yield* Effect.promise(() => import("node:fs"))
      yield* Effect.gen(function*() {
        yield* converse("http:a", "my name is Ada")
        yield* converse("http:a", "what is my name?")
        const second = fake.requests[1]!
        assert.deepStrictEqual(second.messages.map((m) => m.role), ["system", "user", "assistant", "user"])
        assert.strictEqual(second.messages[2]!.content, "nice to meet you")
        const reset = yield* converse("http:a", "/new")
        assert.strictEqual(reset.reply, "Started a new conversation.")
        yield* converse("http:a", "what is my name?")
        assert.deepStrictEqual(fake.requests[2]!.messages.map((m) => m.role), ["system", "user"])
        const info = yield* (yield* Session).info
        assert.strictEqual((info["conversation"] as { messages: number }).messages, 2)
      }).pipe(Effect.provide(agent(fake, dir)))
      const files = readdirSync(`${dir}/conversations`).filter((f) => f.endsWith(".jsonl"))
      assert.strictEqual(files.length, 2)
    }))

  it.live("a restart (new layer, same state dir) resumes the conversation", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      yield* converse("http:a", "remember 42").pipe(Effect.provide(agent(fake, dir)))
      yield* converse("http:a", "what number?").pipe(Effect.provide(agent(fake, dir)))
      const texts = userTexts(fake.requests[1]!)
      assert.strictEqual(texts.length, 2)
      assert.include(texts[0]!, "remember 42")
    }))

  it.live("compaction triggers at the token budget; older turns become one summary", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.setDefault((r) =>
        r.messages[0]!.content?.startsWith("Summarise") ? { text: "SUMMARY: Ada said things" } : { text: "x".repeat(200) }
      )
      const patch: Patch = (s) => ({ ...s, model: { ...s.model, tokenBudget: 250, keepTurns: 1 } })
      yield* Effect.gen(function*() {
        for (let i = 0; i < 4; i++) yield* converse("http:a", `message ${i} ${"y".repeat(100)}`)
        const summaries = fake.requests.filter((r) => r.messages[0]!.content?.startsWith("Summarise"))
        assert.isAtLeast(summaries.length, 1)
        const after = fake.requests[fake.requests.indexOf(summaries[0]!) + 1]!
        // The summary travels in the one leading system message, after the system prompt.
        assert.strictEqual(after.messages[0]!.role, "system")
        assert.notStrictEqual(after.messages[1]!.role, "system")
        assert.include(after.messages[0]!.content, "SUMMARY: Ada said things")
        assert.isBelow(after.messages.length, 6)
        const info = yield* (yield* Session).info
        assert.strictEqual((info["lastCompaction"] as { ok: boolean }).ok, true)
      }).pipe(Effect.provide(agent(fake, dir, patch)))
      // Restart: the compaction record is replayed.
      yield* converse("http:a", "still there?").pipe(Effect.provide(agent(fake, dir, patch)))
      const last = fake.requests.at(-1)!
      assert.isTrue(last.messages.some((m) => m.role === "system" && (m.content ?? "").includes("SUMMARY")))
    }))

  it.live("a failed compaction keeps the history and is reported", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.setDefault((r) =>
        r.messages[0]!.content?.startsWith("Summarise") ? { status: 400 } : { text: "z".repeat(200) }
      )
      const patch: Patch = (s) => ({ ...s, model: { ...s.model, tokenBudget: 150, keepTurns: 1 } })
      yield* Effect.gen(function*() {
        for (let i = 0; i < 3; i++) yield* converse("http:a", `turn ${i}`)
        const last = fake.requests.at(-1)!
        assert.strictEqual(userTexts(last).length, 3)
        const info = yield* (yield* Session).info
        assert.strictEqual((info["lastCompaction"] as { ok: boolean }).ok, false)
      }).pipe(Effect.provide(agent(fake, dir, patch)))
    }))
})

