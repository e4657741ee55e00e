// Regression tests from the review of the latest commits (71dfa0b..). Each one failed against
// the code as reviewed; the comment above a test describes the bug it caught and the name says
// what a user observes now.
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Scope } from "effect"
import { Prompt } from "effect/ai"
import { TestClock } from "effect/testing"
import { compactionSplit } from "../src/agent/compaction.ts"
import { DeliveryFailed } from "../src/domain/errors.ts"
import { summaryMessage } from "../src/agent/Memory.ts"
import { agentCore } from "./support/agentCore.ts"
import { chunk, rawServer, sse } from "./support/rawChatServer.ts"
import { converse, tempStateDir as agentStateDir } from "./support/agentDriver.ts"
import { agentSettings, type Patch } from "./support/agentHarness.ts"
import { daemonLife, scriptedSession, tempStateDir } from "./support/harness.ts"

const user = (text: string) => Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text })] })
const assistant = (text: string) => Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text })] })

describe("review of the latest commits", () => {
  // src/ai/compaction.ts:16-19 (compactionSplit). "Compaction that always makes room" falls back to
  // keeping only the last turn when the kept part would start at index 0. After one compaction the
  // history starts with the summary (a system message at index 0), so the oldest kept user message
  // is at index 1, `kept > 0` holds, and the split is 1: every later compaction replaces only the
  // old summary with a new one. The history never shrinks: each turn over the budget pays a
  // summarising call that makes no room, until the provider refuses the request as too long.
  it("compaction after an earlier compaction still makes room (the summary does not count as kept turns)", () => {
    const history = [
      summaryMessage("they talked about the weather"),
      user("a long question"),
      assistant("a long answer"),
      user("another long question"),
      assistant("another long answer")
    ]
    const split = compactionSplit(history, 4)
    assert.isAbove(split, 1, `split ${split}: only the summary would be re-summarised, nothing is made room for`)
  })

  // src/ai/ChatCompletions.ts:256-263 (exchange). The new cut-off check (no finish reason and no
  // [DONE]: a broken connection, retried) comes after the older "ended without any content" check.
  // `started` ignores thinking, so a reasoning model's stream cut off while it is still thinking (a
  // proxy's timeout, the likeliest moment for one) is an InvalidResponseError, which is never
  // retried: the person is told "The model sent an answer I could not read" instead of the retry
  // the same cut-off gets one token later.
  it.live("a reasoning model's stream cut off while it is thinking is retried like any cut-off stream", () =>
    Effect.gen(function*() {
      const dir = yield* agentStateDir
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

  // src/services/Intake.ts:57-60 (answer) with src/services/QueueSpill.ts:122-126 (save) and
  // src/services/Router.ts:168-171 (onInterrupt keep). Our own answers ("Got it.", /status,
  // "Nothing is running") now go out in a background FiberSet. QueueSpill (outermost) snapshots the
  // outbox at a stop while that fiber is still waiting out a channel's retry_after; the fiber is
  // interrupted only later, when Intake's scope closes, and the Router's "keep it, not lose it"
  // puts the message into an outbox that has already been saved. The answer is lost for good.
  it.effect("an answer still waiting out a retry_after at a stop is kept for the next start", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const echo = yield* scriptedSession((request) => Effect.succeed(`got ${request.text}`))
      const first = yield* daemonLife(echo.layer, dir)
      const slow = new DeliveryFailed({ target: "tg:1", reason: "429 Too Many Requests", permanent: false, retryAfterMs: 30_000 })
      yield* first.router.register({ channel: "tg", send: () => Effect.fail(slow) }).pipe(Scope.provide(first.scope))
      const result = yield* first.intake.submit({ id: "s1", source: "tg:1", text: "/status" })
      assert.strictEqual(result._tag, "Answered")
      yield* TestClock.adjust("1 second") // the background delivery is now waiting out the retry_after
      yield* Scope.close(first.scope, Exit.void)
      const file = join(dir, "outbox.jsonl")
      assert.isTrue(existsSync(file), "the /status answer was neither delivered nor kept: lost at the stop")
      assert.include(readFileSync(file, "utf8"), "s1")
    }))
})
