// Regression tests from the second review of the agent side (issue 4): provider quirks of OpenAI,
// OpenRouter, Ollama and llama.cpp streams. Each one failed against the code as reviewed; the
// comment above a test describes the bug it caught and the name says what a user observes now.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { agentCore } from "./support/agentCore.ts"
import { chunk, rawServer, sse } from "./support/rawChatServer.ts"
import { converse, inbox, tempStateDir } from "./support/agentDriver.ts"
import { agentSettings, type Patch, type Recorded } from "./support/agentHarness.ts"
import { type FakeChatCompletions, fakeChatCompletions } from "./support/fakeChatCompletions.ts"

const agent = (fake: FakeChatCompletions, dir: string, patch: Patch = (s) => s, recorded: Recorded = { events: [], wakes: [] }) =>
  agentCore(agentSettings(fake.url, dir, patch), recorded)

const fast: Patch = (s) => ({ ...s, model: { ...s.model, firstTokenTimeout: Duration.millis(300), attempts: 1 } })

const agentAt = (url: string, dir: string, patch: Patch = fast) => agentCore(agentSettings(url, dir, patch), { events: [], wakes: [] })

const textStream = (text: string) => sse([chunk({ role: "assistant" }), chunk({ content: text }), chunk({}, "stop"), "[DONE]"])

describe("review 2: provider streams", () => {
  // accumulate.ts applyChunk: only `content`, `tool_calls` and `finish_reason` count as the first
  // token. llama.cpp (`reasoning_content`), Ollama and OpenRouter (`reasoning`) and DeepSeek stream a
  // thinking model's reasoning first, often for longer than the 45 s first-token timeout; the
  // stream is alive, but the request is cut as "stalled" (then retried from scratch, or the turn
  // is moved to the fallback). Issue 4: long turns that still stream must not count as failures.
  it.live("a reasoning model that thinks longer than the first-token timeout still answers the person", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const thinking = Array.from({ length: 8 }, (_, i) => chunk({ reasoning_content: `step ${i} ` }))
      const raw = yield* rawServer(sse([
        chunk({ role: "assistant", content: null }),
        ...thinking,
        chunk({ content: "42" }),
        chunk({}, "stop"),
        "[DONE]"
      ], 100))
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "think hard: what is 6 x 7?")
        assert.strictEqual(record.status, "done", `the turn failed: ${record.error}`)
        assert.strictEqual(record.reply, "42")
      }).pipe(Effect.provide(agentAt(raw.url, dir)))
    }))

  // accumulate.ts:445 `call.index ?? acc.toolCalls.length`: a continuation delta without index (and
  // without id/name, as SGLang and some proxies send them) opens a new, nameless tool call, so
  // the arguments are split over several calls and the response is rejected as "not JSON".
  it.live("a tool call whose argument chunks carry no index (SGLang, proxies) still runs", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const raw = yield* rawServer((body, res, n) =>
        n === 1
          ? sse([
            chunk({ role: "assistant" }),
            chunk({ tool_calls: [{ id: "call_1", type: "function", function: { name: "notify", arguments: "" } }] }),
            chunk({ tool_calls: [{ function: { arguments: "{\"text\": " } }] }),
            chunk({ tool_calls: [{ function: { arguments: "\"on my way\"}" } }] }),
            chunk({}, "tool_calls"),
            "[DONE]"
          ])(body, res)
          : textStream("done")(body, res))
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "tell me when you start")
        assert.strictEqual(record.status, "done", `the turn failed: ${record.error}`)
        assert.deepStrictEqual((yield* inbox("http:a")).map((m) => [m.kind, m.text]), [["notify", "on my way"], ["reply", "done"]])
      }).pipe(Effect.provide(agentAt(raw.url, dir)))
    }))

  // Found while fixing the above: a stream that simply ends (a proxy's timeout) after some text,
  // with neither a finish reason nor [DONE], was accepted as the whole answer.
  it.live("a stream cut off mid-answer is retried, not delivered as the answer", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const raw = yield* rawServer((body, res, n) =>
        n === 1
          ? sse([chunk({ role: "assistant" }), chunk({ content: "The first three steps" })])(body, res)
          : textStream("The first three steps are: plan, build, ship.")(body, res))
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "explain the plan")
        assert.strictEqual(record.status, "done", `the turn failed: ${record.error}`)
        assert.strictEqual(record.reply, "The first three steps are: plan, build, ship.")
      }).pipe(Effect.provide(agentAt(raw.url, dir, (s) => ({ ...s, model: { ...s.model, attempts: 2 } }))))
    }))

  // ChatCompletions.ts exchange/applyChunk: OpenRouter reports a failure after the stream has begun
  // as a data event with an `error` object and finish_reason "error" (HTTP status stays 200). The
  // chunk decodes (extra fields ignored), "error" maps to finish reason "unknown", and the text so
  // far is returned as a complete answer: the person gets half a sentence as the reply, and it is
  // remembered as what the assistant said.
  it.live("a provider error in the middle of the stream (OpenRouter) is reported, not delivered as a cut-off reply", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const raw = yield* rawServer(sse([
        chunk({ role: "assistant" }),
        chunk({ content: "The first three steps are" }),
        chunk({ content: "" }, "error", { error: { code: 502, message: "Provider returned error" } }),
        "[DONE]"
      ]))
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "explain the plan")
        assert.notStrictEqual(record.reply, "The first three steps are", "the cut-off text was delivered as the answer")
        assert.strictEqual(record.status, "failed")
      }).pipe(Effect.provide(agentAt(raw.url, dir)))
    }))
})

describe("review 2: the turn as the person sees it", () => {
  // Small local models (llama3.1 on Ollama knows "brave_search" and "python" from its training)
  // often call a tool that is not offered. effect/ai decodes the call against the toolkit and fails
  // with InvalidOutputError, so the whole turn fails with "could not read" instead of the model
  // being told that no such tool exists (as wrong parameters already are).
  it.live("a call to a tool that does not exist goes back to the model; the turn carries on", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "brave_search", args: { query: "weather" }, id: "s1" }] }, { text: "I cannot search, sorry" })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "what is the weather?")
        assert.strictEqual(record.status, "done", `the turn failed: ${record.error}`)
        assert.strictEqual(record.reply, "I cannot search, sorry")
        const tool = fake.requests[1]!.messages.filter((m) => m.role === "tool")
        assert.strictEqual(tool[0]?.tool_call_id, "s1")
      }).pipe(Effect.provide(agent(fake, dir)))
    }))

  // AgentSession.ts: an empty final text becomes SILENT_TOKEN whatever the finish reason, so a
  // reply the provider blocked (finish_reason "content_filter", empty content: Azure OpenAI,
  // OpenRouter moderation) or cut off before any text ("length": a reasoning model that spent its
  // budget thinking) is dropped and the person hears nothing at all.
  it.live("a reply blocked by the provider's content filter tells the person instead of staying silent", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ text: "", finish: "content_filter" })
      yield* Effect.gen(function*() {
        yield* converse("http:a", "tell me something")
        const messages = yield* inbox("http:a")
        assert.isAbove(messages.length, 0, "the person got nothing back")
      }).pipe(Effect.provide(agent(fake, dir)))
    }))
})
