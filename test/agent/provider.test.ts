// The chat/completions provider against the scripted fake: JSON and SSE answers, several tool
// calls, usage, retries (429 retry-after, 500), malformed output, a stalled stream and the
// fallback model with probing and restore.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { AiError, type Response, Tool, Toolkit } from "effect/ai"
import { ChatModel } from "../../src/agent/model/ChatModel.ts"
import { RetryObserver, type RetryNotice } from "../../src/agent/model/endpoint.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { agentSettings, type Patch, withFallback } from "../support/agentHarness.ts"
import { type FakeChatCompletions, fakeChatCompletions } from "../support/fakeChatCompletions.ts"

const modelWith = (fake: FakeChatCompletions, patch: Patch = (s) => s) =>
  ChatModel.layerNodeHttp.pipe(Layer.provide(GatewayConfig.test(agentSettings(fake.url, "/tmp", patch))))

const ask = (text: string) =>
  Effect.gen(function*() {
    const { languageModel } = yield* ChatModel
    return yield* languageModel.generateText({ prompt: text })
  })

const NotifyOnly = Toolkit.make(Tool.make("notify", {
  parameters: Schema.Struct({ text: Schema.String, target: Schema.optional(Schema.String) })
}))

/** Tool calls come back unresolved: this file tests the provider, not the loop. */
const askWithTools = (text: string) =>
  Effect.gen(function*() {
    const { languageModel } = yield* ChatModel
    return yield* languageModel.generateText({ prompt: text, toolkit: NotifyOnly, disableToolCallResolution: true })
  })

const run = <A, E>(fake: FakeChatCompletions, patch: Patch, effect: Effect.Effect<A, E, ChatModel>) =>
  effect.pipe(Effect.provide(modelWith(fake, patch)))

const poll = <A>(check: Effect.Effect<A | undefined>, ms = 5000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    for (;;) {
      const v = yield* check
      if (v !== undefined) return v
      if (Date.now() > deadline) return yield* Effect.die(new Error("condition not met in time"))
      yield* Effect.sleep("20 millis")
    }
  })

const streaming = (on: boolean): Patch => (s) => ({ ...s, model: { ...s.model, stream: on } })

describe("chat/completions provider", () => {
  for (const stream of [false, true]) {
    it.live(`answers text with usage (${stream ? "SSE" : "JSON"})`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeChatCompletions
        fake.script({ text: "hello there, this is a longer answer", usage: { prompt: 12, completion: 7 } })
        const response = yield* run(fake, streaming(stream), ask("hi"))
        assert.strictEqual(response.text, "hello there, this is a longer answer")
        assert.strictEqual(response.finishReason, "stop")
        assert.strictEqual(response.usage.inputTokens.total, 12)
        assert.strictEqual(response.usage.outputTokens.total, 7)
        assert.strictEqual(fake.requests[0]!.stream, stream)
        assert.deepStrictEqual(fake.requests[0]!.messages.at(-1), { role: "user", content: "hi" })
      }))

    it.live(`returns several tool calls from one response (${stream ? "SSE" : "JSON"})`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeChatCompletions
        fake.script({
          toolCalls: [
            { name: "notify", args: { text: "one" }, id: "c1" },
            { name: "notify", args: { text: "two", target: "http:x" }, id: "c2" }
          ]
        })
        const response = yield* run(fake, streaming(stream), askWithTools("go"))
        assert.strictEqual(response.finishReason, "tool-calls")
        assert.deepStrictEqual(
          response.toolCalls.map((c) => [c.id, c.name, c.params]),
          [["c1", "notify", { text: "one" }], ["c2", "notify", { text: "two", target: "http:x" }]]
        )
      }))
  }

  it.live("streams text deltas through streamText", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.script({ text: "a streamed answer in pieces" })
      const parts = yield* Effect.gen(function*() {
        const { languageModel } = yield* ChatModel
        return yield* languageModel.streamText({ prompt: "hi" }).pipe(Stream.runCollect)
      }).pipe(Effect.provide(modelWith(fake)))
      const deltas = parts.filter((p): p is Response.TextDeltaPart => p.type === "text-delta")
      assert.isAbove(deltas.length, 1)
      assert.strictEqual(deltas.map((d) => d.delta).join(""), "a streamed answer in pieces")
      assert.strictEqual(parts.at(-1)?.type, "finish")
    }))

  it.live("waits as long as a 429's retry-after asks, then succeeds", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.script({ status: 429, headers: { "retry-after-ms": "300" } }, { text: "after the wait" })
      const notices: Array<RetryNotice> = []
      const started = Date.now()
      const response = yield* run(fake, (s) => s, ask("hi")).pipe(
        Effect.provideService(RetryObserver, (n) => Effect.sync(() => void notices.push(n)))
      )
      assert.strictEqual(response.text, "after the wait")
      assert.isAtLeast(Date.now() - started, 300)
      assert.strictEqual(fake.requests.length, 2)
      assert.deepStrictEqual(notices.map((n) => [n.attempt, n.delayMs, n.error.reason._tag]), [[1, 300, "RateLimitError"]])
    }))

  it.live("retries a 500 and succeeds", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.script({ status: 500 }, { text: "recovered" })
      const response = yield* run(fake, (s) => s, ask("hi"))
      assert.strictEqual(response.text, "recovered")
      assert.strictEqual(fake.requests.length, 2)
    }))

  it.live("gives up after the configured attempts with a typed AiError", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.setDefault({ status: 503 })
      const error = yield* run(fake, (s) => s, ask("hi")).pipe(Effect.flip)
      assert.isTrue(AiError.isAiError(error))
      assert.strictEqual(fake.requests.length, 3)
    }))

  it.live("does not retry a 400", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.script({ status: 400, body: JSON.stringify({ error: { message: "context too long" } }) })
      const error = yield* run(fake, (s) => s, ask("hi")).pipe(Effect.flip)
      assert.strictEqual(error.reason._tag, "InvalidRequestError")
      assert.strictEqual(fake.requests.length, 1)
    }))

  for (const stream of [false, true]) {
    it.live(`a malformed answer is an InvalidResponseError, not a crash (${stream ? "SSE" : "JSON"})`, () =>
      Effect.gen(function*() {
        const fake = yield* fakeChatCompletions
        fake.script({ malformed: true })
        const error = yield* run(fake, streaming(stream), ask("hi")).pipe(Effect.flip)
        assert.strictEqual(error.reason._tag, "InvalidResponseError")
      }))
  }

  it.live("a stalled stream hits the first-token timeout; the fallback answers; the primary is restored", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.scriptFor("primary-model", { stall: true }, { status: 503 }, { status: 503 })
      fake.setDefault({ text: "fallback here" }, "fallback-model")
      fake.setDefault({ text: "primary here" }, "primary-model")
      const patch: Patch = withFallback((s) => ({
        ...s,
        model: { ...s.model, firstTokenTimeout: Duration.millis(300), attempts: 1 }
      }))
      yield* Effect.gen(function*() {
        const model = yield* ChatModel
        const first = yield* ask("hi")
        assert.strictEqual(first.text, "fallback here")
        const status = yield* model.status
        assert.strictEqual(status.active, "fallback")
        assert.strictEqual(status.switches, 1)
        assert.strictEqual(status.lastSwitchReason, "first-token timeout")
        // Probes fail twice (503), then the primary answers and is restored.
        yield* poll(Effect.map(model.status, (s) => (s.active === "primary" ? s : undefined)))
        const after = yield* ask("again")
        assert.strictEqual(after.text, "primary here")
        assert.strictEqual((yield* model.status).restores, 1)
      }).pipe(Effect.provide(modelWith(fake, patch)))
    }))

  it.live("N consecutive failures move turns to the fallback; the failing turn is answered there", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.setDefault({ status: 500 }, "primary-model")
      fake.setDefault({ text: "fallback here" }, "fallback-model")
      yield* Effect.gen(function*() {
        const model = yield* ChatModel
        const e = yield* ask("one").pipe(Effect.flip)
        assert.strictEqual(e.reason._tag, "InternalProviderError")
        assert.strictEqual((yield* model.status).consecutiveFailures, 1)
        const second = yield* ask("two")
        assert.strictEqual(second.text, "fallback here")
        assert.strictEqual((yield* model.status).active, "fallback")
      }).pipe(Effect.provide(modelWith(fake, withFallback((s) => ({ ...s, model: { ...s.model, attempts: 1 } })))))
    }))

  it.live("tool-only answers and a 400 do not count as failures", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.scriptFor(
        "primary-model",
        { toolCalls: [{ name: "notify", args: { text: "x" } }] },
        { status: 400 },
        { status: 400 },
        { status: 400 }
      )
      yield* Effect.gen(function*() {
        const model = yield* ChatModel
        yield* askWithTools("tools")
        for (let i = 0; i < 3; i++) yield* Effect.flip(ask("bad"))
        const s = yield* model.status
        assert.strictEqual(s.active, "primary")
        assert.strictEqual(s.consecutiveFailures, 0)
      }).pipe(Effect.provide(modelWith(fake, withFallback())))
    }))

  it.live("sends the API key as a bearer token and never logs it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      yield* run(fake, (s) => ({ ...s, model: { ...s.model, apiKey: Option.some(Redacted.make("sk-test-123")) } }), ask("hi"))
      assert.strictEqual(fake.requests[0]!.headers["authorization"], "Bearer sk-test-123")
    }))
})
