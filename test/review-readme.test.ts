// Regression tests from the README truth check and the review of 95267b0..a1c12f0. Each one failed
// against the code as reviewed; the comment above a test describes the bug it caught (in the past
// state of the code) and the test name says what a user observes now.
import { spawn } from "node:child_process"
import { afterEach } from "vitest"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Ref } from "effect"
import { TestClock } from "effect/testing"
import { DeliveryFailed } from "../src/domain/errors.ts"
import type { Outbound } from "../src/domain/model.ts"
import { Intake } from "../src/core/Intake.ts"
import { Questions } from "../src/core/Questions.ts"
import { RequestLog } from "../src/core/RequestLog.ts"
import { Router } from "../src/core/Router.ts"
import { Status } from "../src/core/Status.ts"
import { CLI, ROOT, startDaemon } from "./support/daemon.ts"
import { startFakeChatCompletions } from "./support/fakeChatCompletions.ts"
import { gateway, scriptedSession, until } from "./support/harness.ts"

const echo = scriptedSession((request) => Effect.succeed(`echo: ${request.text}`))

describe("review (README): idempotency keys", () => {
  // src/services/Intake.ts:61 answers a known id as a Duplicate from the RequestLog before
  // CommandQueue.offer runs, so the only duplicate counter (src/services/CommandQueue.ts:89-92,
  // `counters.duplicates++` and switchboard_queue_duplicates_total) is never reached. README: /status
  // `queue.duplicates`; /metrics shows refusals. Seen live: POST the same key twice → the second
  // answer is `{"duplicate":true}`, yet /status says `"duplicates":0` and /metrics has no
  // switchboard_queue_duplicates_total line at all.
  it.effect("/status counts a request id sent twice as one duplicate", () =>
    Effect.gen(function*() {
      const session = yield* echo
      return yield* Effect.gen(function*() {
        const intake = yield* Intake
        assert.strictEqual((yield* intake.submit({ id: "http:me~msg-1", source: "http:me", text: "hello" }))._tag, "Queued")
        yield* until(Effect.map((yield* RequestLog).get("http:me~msg-1"), (r) => r?.status === "done"), "answered")
        const again = yield* intake.submit({ id: "http:me~msg-1", source: "http:me", text: "hello" })
        assert.strictEqual(again._tag, "Duplicate")
        const snapshot = (yield* (yield* Status).snapshot) as { queue: { duplicates: number } }
        assert.strictEqual(snapshot.queue.duplicates, 1, "/status queue.duplicates")
      }).pipe(Effect.provide(gateway(session.layer)))
    }))

  // src/services/Intake.ts:61 treats every id still in the RequestLog as a duplicate, and the
  // RequestLog (src/services/RequestLog.ts:37-43) forgets by count (10,000 requests), never by
  // time. SWITCHBOARD_DEDUPE_WINDOW (README: "a request id seen within this window is a duplicate")
  // is only applied in CommandQueue, which is no longer asked: a key reused hours later (a daily
  // job posting with id "nightly-report") is silently dropped as a duplicate forever, on a quiet
  // daemon.
  it.effect("a key sent again after SWITCHBOARD_DEDUPE_WINDOW is answered again", () =>
    Effect.gen(function*() {
      const session = yield* echo
      return yield* Effect.gen(function*() {
        const intake = yield* Intake
        const requests = yield* RequestLog
        yield* intake.submit({ id: "http:cron~nightly-report", source: "http:cron", text: "report" })
        yield* until(Effect.map(requests.get("http:cron~nightly-report"), (r) => r?.status === "done"), "answered")
        yield* TestClock.adjust("2 hours") // twice the default window (1 hour)
        const tomorrow = yield* intake.submit({ id: "http:cron~nightly-report", source: "http:cron", text: "report" })
        assert.strictEqual(tomorrow._tag, "Queued", "refused as a duplicate after the window")
      }).pipe(Effect.provide(gateway(session.layer, (s) => ({ ...s, queue: { ...s.queue, dedupeWindow: Duration.hours(1) } }))))
    }))
})

describe("review (95267b0..HEAD): questions in the outbox", () => {
  // src/services/Router.ts:178-183 drops an `ask` from the outbox only once its `expiresAt`
  // (askedAt + SWITCHBOARD_ASK_TIMEOUT) has passed; src/services/Questions.ts:69-72,91 forgets the
  // question as soon as the asking turn ends for any other reason (/stop, a daemon restart — the
  // question lives in memory but the ask is kept in outbox.jsonl), and nothing withdraws it from the
  // outbox. When Telegram is back, the chat gets a question with buttons that nobody waits for:
  // pressing one gives the "stale question" toast, typing an answer is taken as a new message.
  // (Commit a1c12f0's own rationale: "sending it now would only confuse".)
  it.effect("a question whose turn was stopped while it waited in the outbox is not sent later", () =>
    Effect.gen(function*() {
      const policy = { retryEvery: Duration.seconds(5), maxRetryEvery: Duration.minutes(5), maxAge: Duration.hours(24) }
      const router = yield* Router.make({ attempts: 1, baseDelayMs: 0 }, policy)
      const state = { up: false }
      const delivered = yield* Ref.make<ReadonlyArray<string>>([])
      yield* router.register({
        channel: "telegram",
        send: (target: string, m: Outbound) =>
          Effect.suspend(() =>
            state.up
              ? Ref.update(delivered, (d) => [...d, `${target} ${m.kind}`])
              : Effect.fail(new DeliveryFailed({ target, reason: "502 Bad Gateway", permanent: false }))
          )
      })
      const questions = yield* Questions.make({ timeout: "2 minutes" }).pipe(Effect.provideService(Router, router))
      const asking = yield* Effect.forkChild(questions.ask("telegram:1", "Deploy?", ["yes", "no"]))
      yield* until(Effect.map(router.stats, (s) => s.outbox.waiting === 1), "the question is kept in the outbox")
      yield* Fiber.interrupt(asking) // the person sent /stop: the turn and its question are gone
      assert.strictEqual(yield* questions.pendingFor("telegram:1"), undefined)
      state.up = true // Telegram is back, well within the ask timeout
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Ref.get(delivered), [], "a question nobody waits for was sent")
    }))
})

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const waitFor = async (cond: () => Promise<boolean> | boolean, what: string) => {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`never happened: ${what}`)
}

describe("review (95267b0..HEAD): switchboard chat send retry", () => {
  // src/cli/commands.ts:148 retries a line on ANY 503, `queue_full` included, through
  // lostContact (commands.ts:122-126): the person is told "lost contact with switchboard
  // (switchboard answered 503 queue_full: …); retrying…" while the daemon is up and answering.
  // Worse, `lost.reason` is only cleared by the poller's recover (commands.ts:133), which never runs
  // because polling works: no "reconnected" follows, and the next real outage prints no
  // "lost contact" line at all (commands.ts:124 only prints when lost.reason is unset).
  // README: "a full queue is refused clearly"; chat retries lines typed "while the daemon is away".
  it("chat does not say it lost contact when the daemon answers queue_full", async () => {
    const fake = await startFakeChatCompletions()
    cleanup.push(() => fake.close())
    fake.setDefault({ stall: true }) // the first turn never ends
    const daemon = await startDaemon({
      env: {
        SWITCHBOARD_HTTP_PORT: "0",
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: fake.url,
        SWITCHBOARD_MODEL: "test",
        SWITCHBOARD_QUEUE_CAP: "1",
        SWITCHBOARD_SHUTDOWN_GRACE: "1 second"
      }
    })
    cleanup.push(() => daemon.stop())
    const chat = spawn(process.execPath, [CLI, "chat", "--as", "cli:tester"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_URL: daemon.url },
      stdio: ["pipe", "pipe", "pipe"]
    })
    cleanup.push(async () => chat.kill())
    const output = { err: "" }
    chat.stderr.on("data", (c: Buffer) => (output.err += c.toString("utf8")))
    await waitFor(() => output.err.includes("connected to"), "chat connected")
    chat.stdin.write("one\n")
    await waitFor(() => fake.requests.length > 0, "the first turn is running")
    chat.stdin.write("two\n")
    await waitFor(async () => (await daemon.json("/status")).body?.queue?.depth === 1, "the second line is queued")
    chat.stdin.write("three\n") // the queue (cap 1) is full
    await waitFor(async () => (await daemon.json("/status")).body?.queue?.refused >= 2, "the chat tried twice")
    assert.notInclude(output.err, "lost contact", "the daemon is up: it refused the line because the queue is full")
  }, 40_000)
})
