// Intake: the next message a person sends to a chat with a pending question answers it; automation
// never does; control commands are answered at once.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { graph } from "../../src/layers/Daemon.ts"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
import { Questions } from "../../src/core/Questions.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Session } from "../../src/core/Session.ts"
import { testConfig } from "../support/harness.ts"
import { Store } from "../../src/store/Store.ts"

// The daemon's own composition (Questions sits below the core, as in the daemon).
const withQuestions = graph(Session.echo).pipe(
  Layer.provideMerge(Store.memory),
  Layer.provideMerge(testConfig((s) => ({ ...s, stateDir: mkdtempSync(join(tmpdir(), "switchboard-intake-")) })))
)

describe("Intake and pending questions", () => {
  it.live("a person's next message answers the pending question; an automation event does not", () =>
    Effect.gen(function*() {
      const questions = yield* Questions
      const intake = yield* Intake
      const asking = yield* Effect.forkChild(questions.ask("http:ops", "Deploy?", ["yes", "no"]))
      for (let i = 0; i < 100 && (yield* questions.pendingFor("http:ops")) === undefined; i++) yield* Effect.yieldNow
      assert.isDefined(yield* questions.pendingFor("http:ops"), "the question was never asked")
      const event = yield* intake.submit({ id: "e1", source: "http:ops", text: "cron ran", priority: "event" })
      assert.strictEqual(event._tag, "Queued")
      const other = yield* intake.submit({ id: "o1", source: "http:other", text: "2" })
      assert.strictEqual(other._tag, "Queued")
      const asked = yield* questions.pendingFor("http:ops")
      const reply = yield* intake.submit({ id: "h1", source: "http:ops", text: "2" })
      assert.deepStrictEqual(reply, { _tag: "Answered", id: "h1", reply: "Got it.", question: asked?.id })
      // The person sees the acknowledgement where they are (here: the inbox of http:ops).
      // (delivered in the background: wait for it, after the question at seq 1)
      const page = yield* (yield* Inbox).read("http:ops", 1, 5000)
      assert.deepStrictEqual(page.messages.map((m) => [m.kind, m.text]), [["reply", "Got it."]])
      const outcome = yield* Fiber.join(asking)
      assert.strictEqual(outcome._tag, "Answered")
      if (outcome._tag === "Answered") assert.strictEqual(outcome.answer, "no")
    }).pipe(Effect.provide(withQuestions)))

  it.live("a repeated id is a duplicate even for a control command: the first request's record stays", () =>
    Effect.gen(function*() {
      const intake = yield* Intake
      assert.strictEqual((yield* intake.submit({ id: "x1", source: "http:ops", text: "hello" }))._tag, "Queued")
      const first = yield* (yield* RequestLog).await("x1", 5_000)
      const again = yield* intake.submit({ id: "x1", source: "http:ops", text: "/status" })
      assert.deepStrictEqual(again, { _tag: "Duplicate", id: "x1" })
      assert.deepStrictEqual(yield* (yield* RequestLog).get("x1"), first)
    }).pipe(Effect.provide(withQuestions)))
})
