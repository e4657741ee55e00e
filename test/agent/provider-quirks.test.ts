// What real chat-completions servers do (OpenAI, OpenRouter, Ollama, llama.cpp, SGLang, proxies)
// and what the person sees: thinking models, index-less tool chunks, cut-off streams, errors in the
// middle of a stream, unknown tools, filtered replies, and a fallback that gives way to the primary
// again. Each case once failed; its comment says how.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { ChatModel } from "../../src/agent/model/ChatModel.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { agentCore } from "../support/agentCore.ts"
import { chunk, rawServer, sse } from "../support/rawChatServer.ts"
import { converse, inbox, tempStateDir } from "../support/agentDriver.ts"
import { agentSettings, type Patch, type Recorded, withFallback } from "../support/agentHarness.ts"
import { type FakeChatCompletions, fakeChatCompletions } from "../support/fakeChatCompletions.ts"

const agent = (fake: FakeChatCompletions, dir: string, patch: Patch = (s) => s, recorded: Recorded = { events: [], wakes: [] }) =>
  agentCore(agentSettings(fake.url, dir, patch), recorded)

const fast: Patch = (s) => ({ ...s, model: { ...s.model, firstTokenTimeout: Duration.millis(300), attempts: 1 } })

const agentAt = (url: string, dir: string, patch: Patch = fast) => agentCore(agentSettings(url, dir, patch), { events: [], wakes: [] })

const textStream = (text: string) => sse([chunk({ role: "assistant" }), chunk({ content: text }), chunk({}, "stop"), "[DONE]"])

describe("provider streams", () => {
  // Only `content`, `tool_calls` and `finish_reason` once counted as the first token. llama.cpp
  // (`reasoning_content`), Ollama and OpenRouter (`reasoning`) and DeepSeek stream a thinking model's
  // reasoning first, often for longer than the first-token timeout: the live stream was cut as
  // "stalled" (retried from scratch, or moved to the fallback). Long turns that still stream are not
  // failures.
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

  // A continuation delta without `index` (and without id/name, as SGLang and some proxies send them)
  // once opened a new, nameless tool call: the arguments were split over several calls and rejected as
  // "not JSON".
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

  // A stream that simply ends (a proxy's timeout) after some text, with neither a finish reason nor
  // [DONE], was once accepted as the whole answer.
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

  // The cut-off check (no finish reason and no [DONE]: a broken connection, retried) once came after
  // the "ended without any content" check, which ignores thinking: a reasoning model's stream cut off
  // while still thinking (a proxy's timeout, the likeliest moment for one) was never retried, and the
  // person was told "The model sent an answer I could not read".
  it.live("a reasoning model's stream cut off while it is thinking is retried like any cut-off stream", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const raw = yield* rawServer((body, res, n) =>
        n === 1
          ? sse([chunk({ role: "assistant" }), chunk({ reasoning_content: "Let me think about the plan" })])(body, res)
          : sse([chunk({ role: "assistant" }), chunk({ content: "plan, build, ship" }), chunk({}, "stop"), "[DONE]"])(body, res))
      const patch: Patch = (s) => ({ ...s, model: { ...s.model, firstTokenTimeout: Duration.seconds(5), attempts: 2 } })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:a", "explain the plan")
        assert.strictEqual(record.status, "done", `the turn failed: ${record.error}`)
        assert.strictEqual(record.reply, "plan, build, ship")
      }).pipe(Effect.provide(agentCore(agentSettings(raw.url, dir, patch), { events: [], wakes: [] })))
    }))

  // OpenRouter reports a failure after the stream has begun as a data event with an `error` object and
  // finish_reason "error" (the HTTP status stays 200). It once decoded as finish reason "unknown", and
  // the text so far was delivered and remembered as a complete answer: half a sentence.
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

describe("the fallback model", () => {
  // The restore probe once sent `max_tokens: 1`, a parameter ordinary turns never send. OpenAI's
  // reasoning models (o1/o3/o4-mini, gpt-5…) reject it with 400 "unsupported_parameter", so once such a
  // primary had failed over, every probe failed and turns stayed on the fallback until a restart,
  // although the primary answered turns again.
  it.live("the primary is restored when it answers turns again, even if it rejects max_tokens", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.scriptFor("primary-model", { stall: true })
      fake.setDefault((req) =>
        req.body.max_tokens !== undefined
          ? {
            status: 400,
            body: JSON.stringify({
              error: {
                message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                type: "invalid_request_error",
                param: "max_tokens",
                code: "unsupported_parameter"
              }
            })
          }
          : { text: "primary here" }, "primary-model")
      fake.setDefault({ text: "fallback here" }, "fallback-model")
      const patch = withFallback((s) => ({ ...s, model: { ...s.model, firstTokenTimeout: Duration.millis(300), attempts: 1 } }))
      const layer = ChatModel.layerNodeHttp.pipe(Layer.provide(GatewayConfig.test(agentSettings(fake.url, "/tmp", patch))))
      yield* Effect.gen(function*() {
        const model = yield* ChatModel
        const first = yield* model.languageModel.generateText({ prompt: "hi" })
        assert.strictEqual(first.text, "fallback here")
        // Probes run every 100 ms; give them two seconds.
        const deadline = Date.now() + 2000
        while ((yield* model.status).active !== "primary" && Date.now() < deadline) yield* Effect.sleep("50 millis")
        const status = yield* model.status
        assert.strictEqual(status.active, "primary", `still on the fallback; last error: ${status.lastError}`)
      }).pipe(Effect.provide(layer))
    }), 15_000)
})

describe("the turn as the person sees it", () => {
  // Small local models (llama3.1 on Ollama knows "brave_search" and "python" from its training) often
  // call a tool that is not offered. That call once failed the whole turn ("could not read") instead of
  // the model being told that no such tool exists, as it is told about wrong parameters.
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

  // An empty final text once became the silent token whatever the finish reason, so a reply the
  // provider blocked (finish_reason "content_filter": Azure OpenAI, OpenRouter moderation) or cut off
  // before any text ("length": a reasoning model that spent its budget thinking) was dropped and the
  // person heard nothing at all.
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
