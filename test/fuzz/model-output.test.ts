// Fuzzing what a model provider sends back: SSE streams of any shape (garbage lines, chunks with odd
// fields, tool calls with any name and any arguments, any finish reason, cut off or not). Every turn
// ends — answered, or failed with a reason its sender is told — and the next turn still runs.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import fc from "fast-check"
import { agentCore } from "../support/agentCore.ts"
import { converse, tempStateDir } from "../support/agentDriver.ts"
import { agentSettings, type Patch } from "../support/agentHarness.ts"
import { chunk, rawServer, sse } from "../support/rawChatServer.ts"
import { fuzzParameters, jsonish } from "./budget.ts"

const fast: Patch = (s) => ({
  ...s,
  model: { ...s.model, firstTokenTimeout: Duration.millis(500), requestTimeout: Duration.seconds(3), attempts: 1, askTimeout: Duration.millis(100), maxSteps: 3 }
})

const argumentsText = fc.oneof(
  jsonish.map((v) => JSON.stringify(v) ?? ""),
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", "{", "{\"text\":", "{\"text\": \"hi\"}", "{\"question\":\"q\",\"options\":[]}", "{\"command\":\"rm -rf /\"}", "null", "[]")
)
const toolCall = fc.record({
  index: fc.oneof(fc.nat(3), fc.constant(undefined), jsonish),
  id: fc.oneof(fc.string({ maxLength: 8 }), fc.constant(undefined)),
  type: fc.constantFrom("function", undefined),
  function: fc.record({
    name: fc.oneof(fc.constantFrom("notify", "ask", "exec", "no_such_tool", ""), jsonish),
    arguments: argumentsText
  }, { requiredKeys: [] })
}, { requiredKeys: [] })
const event = fc.oneof(
  fc.string({ maxLength: 20 }).map((content) => chunk({ content })),
  fc.array(toolCall, { minLength: 1, maxLength: 2 }).map((tool_calls) => chunk({ tool_calls })),
  fc.oneof(fc.constantFrom("stop", "tool_calls", "length", "content_filter"), jsonish.map((v) => JSON.stringify(v) ?? "")).map((reason) => chunk({}, reason)),
  jsonish.map((delta) => chunk(delta)),
  fc.record({ choices: jsonish, error: jsonish }, { requiredKeys: [] }),
  fc.constantFrom("[DONE]", "{not json", "", "null", "{\"choices\":[]}", "{\"error\":{\"message\":\"overloaded\"}}")
)
const stream = fc.array(event, { maxLength: 8 })

describe("fuzz: model output", () => {
  it.live("any stream and any tool-call arguments end the turn (answered or failed with a reason), and the next turn runs", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const state = { events: [] as ReadonlyArray<unknown>, calls: 0 }
      const raw = yield* rawServer((body, res) =>
        sse(state.calls++ === 0 ? state.events : [chunk({ content: "ok" }), chunk({}, "stop"), "[DONE]"])(body, res))
      yield* Effect.gen(function*() {
        const run = (events: ReadonlyArray<unknown>) =>
          Effect.gen(function*() {
            state.events = events
            state.calls = 0
            const record = yield* converse("http:fuzz", "go")
            assert.include(["done", "failed"], record.status)
            if (record.status === "failed") {
              assert.isAbove((record.error ?? "").length, 0, "a failed turn says why")
              // A clear error, not a defect in the daemon (those end as "Something went wrong").
              assert.notInclude(record.error, "Something went wrong", JSON.stringify(events))
            }
          })
        const runtime = yield* Effect.context<never>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(stream, (events) => Effect.runPromiseWith(runtime)(run(events) as Effect.Effect<void>)),
            {
              ...fuzzParameters(40),
              // Found by this fuzzer: a tool call at index 2 with none before it left holes in the
              // calls (a crash, and a request body with ",," sent to the provider).
              examples: [[[
                chunk({ tool_calls: [{ index: 2, id: "c2", type: "function", function: { name: "notify", arguments: "{\"text\":\"x\"}" } }] }),
                chunk({}, "tool_calls"),
                "[DONE]"
              ]]]
            }
          )
        )
        // The queue keeps moving: a plain answer after all of that.
        state.events = [chunk({ content: "still here" }), chunk({}, "stop"), "[DONE]"]
        state.calls = 0
        const after = yield* converse("http:fuzz", "are you there?")
        assert.strictEqual(after.reply, "still here")
      }).pipe(Effect.provide(agentCore(agentSettings(raw.url, dir, fast), { events: [], wakes: [] })))
    }), 300_000)
})
