// Time-based behaviour of the Telegram channel on the TestClock: typing renewal during a long turn,
// per-chat pacing, and 429 retry_after. The Bot API is an in-memory stub that stamps each call
// with the (test) clock; polling waits forever, requests come in through Intake directly.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Dispatcher } from "../../../src/core/Dispatcher.ts"
import { Intake } from "../../../src/core/Intake.ts"
import { Router } from "../../../src/core/Router.ts"
import { TelegramApi, TelegramApiError } from "../../../src/channels/telegram/TelegramApi.ts"
import { TelegramChannel } from "../../../src/channels/telegram/TelegramChannel.ts"
import { ALLOWED, Gates, testCore, telegramOver } from "../../support/telegramHarness.ts"

interface StubCall {
  readonly method: string
  readonly payload: Record<string, any>
  readonly at: number
}

const stubApi = (calls: Array<StubCall>, fail: (call: StubCall) => TelegramApiError | undefined = () => undefined) =>
  Layer.succeed(
    TelegramApi,
    TelegramApi.of({
      call: (method, payload) =>
        Effect.gen(function*() {
          if (method === "getUpdates") return yield* Effect.never
          const call = { method, payload: payload as Record<string, any>, at: yield* Clock.currentTimeMillis }
          calls.push(call)
          const error = fail(call)
          if (error) return yield* error
          return method === "sendMessage" ? { message_id: calls.length, chat: { id: payload["chat_id"] } } : true
        })
    })
  )

/** The channel with default timing (1 s pacing with bursts of 3, typing every 4.5 s) over the stub. */
const buildWithDefaults = (calls: Array<StubCall>, fail?: (call: StubCall) => TelegramApiError | undefined) =>
  Layer.build(
    telegramOver(stubApi(calls, fail)).pipe(
        Layer.provideMerge(testCore((s) => ({ ...s, telegram: { ...s.telegram, allowedChatIds: ALLOWED } })))
    )
  )

/** Let forked fibers run until `check` holds (no time passes). */
const settle = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000 && !check(); i++) yield* Effect.yieldNow
    assert.isTrue(check(), "condition never held")
  })

/** Until the Dispatcher runs a turn for `source`. */
const turnRunning = (ctx: Context.Context<Dispatcher>, source: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) {
      if ((yield* Context.get(ctx, Dispatcher).active)?.source === source) return
      yield* Effect.yieldNow
    }
    assert.fail(`no turn for ${source} started`)
  })

const sends = (calls: ReadonlyArray<StubCall>, chatId: number) =>
  calls.filter((c) => c.method === "sendMessage" && c.payload["chat_id"] === chatId)

describe("Telegram timing (TestClock)", () => {
  it.effect("typing is shown when a chat's turn starts, renewed every 4.5 s, and stops when the turn ends", () =>
    Effect.gen(function*() {
      const calls: Array<StubCall> = []
      const ctx = yield* buildWithDefaults(calls)
      const typing = () => calls.filter((c) => c.method === "sendChatAction")
      yield* Context.get(ctx, Intake).submit({ id: "telegram:1", source: "telegram:111", text: "slow:t" })
      yield* turnRunning(ctx, "telegram:111")

      // Shown as the turn starts (the turn-started event, not a poll of the running turn) …
      yield* settle(() => typing().length === 1)
      assert.deepInclude(typing()[0]!.payload, { chat_id: 111, action: "typing" })
      const first = typing()[0]!.at
      assert.strictEqual(first, 0)
      // … then renewed every 4.5 s while the turn runs.
      for (let t = 1000; t <= 14_000; t += 500) yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(typing().map((c) => c.at), [first, first + 4500, first + 9000, first + 13_500])

      yield* Context.get(ctx, Gates).open("t")
      yield* settle(() => sends(calls, 111).length === 1)
      assert.strictEqual(sends(calls, 111)[0]!.payload["text"], "done t")
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual(typing().length, 4, "typing continued after the turn ended")
    }))

  it.effect("typing in a forum topic goes to that topic", () =>
    Effect.gen(function*() {
      const calls: Array<StubCall> = []
      const ctx = yield* buildWithDefaults(calls)
      yield* Context.get(ctx, Intake).submit({ id: "telegram:2", source: "telegram:-100500:topic:7", text: "slow:x" })
      yield* turnRunning(ctx, "telegram:-100500:topic:7")
      yield* settle(() => calls.some((c) => c.method === "sendChatAction"))
      assert.deepInclude(calls.find((c) => c.method === "sendChatAction")!.payload, {
        chat_id: -100500,
        message_thread_id: 7,
        action: "typing"
      })
    }))

  it.effect("pacing: a burst of 3 per chat, then about one message per second; other chats are not held up", () =>
    Effect.gen(function*() {
      const calls: Array<StubCall> = []
      const ctx = yield* buildWithDefaults(calls)
      const router = Context.get(ctx, Router)
      const deliver = (target: string, text: string) =>
        router.deliver(target, { kind: "notify", text }, { explicit: true }).pipe(Effect.orDie)
      const burst = yield* Effect.forEach([1, 2, 3, 4, 5, 6], (i) => deliver("telegram:111", `m${i}`), {
        concurrency: "unbounded"
      }).pipe(Effect.forkChild)
      yield* settle(() => sends(calls, 111).length === 3)
      yield* deliver("telegram:222", "other chat")
      assert.deepStrictEqual(sends(calls, 222).map((c) => c.at), [0])
      for (let i = 0; i < 3; i++) yield* TestClock.adjust("1 second")
      yield* Fiber.join(burst)
      assert.deepStrictEqual(sends(calls, 111).map((c) => c.at), [0, 0, 0, 1000, 2000, 3000])
      assert.deepStrictEqual(sends(calls, 111).map((c) => c.payload["text"]), ["m1", "m2", "m3", "m4", "m5", "m6"])
    }))

  it.effect("Telegram unreachable for a minute: the reply waits in the outbox and arrives, in order, once it is back", () =>
    Effect.gen(function*() {
      const calls: Array<StubCall> = []
      const network = { down: true }
      const ctx = yield* buildWithDefaults(calls, (call) =>
        call.method === "sendMessage" && network.down
          ? new TelegramApiError({ method: "sendMessage", code: 0, description: "fetch failed (ECONNRESET)" })
          : undefined
      )
      const intake = Context.get(ctx, Intake)
      yield* intake.submit({ id: "telegram:1", source: "telegram:111", text: "first" })
      yield* TestClock.adjust("10 seconds") // the Router's retries are spent
      yield* intake.submit({ id: "telegram:2", source: "telegram:111", text: "second" })
      yield* TestClock.adjust("50 seconds")
      assert.strictEqual((yield* Context.get(ctx, Router).stats).outbox.waiting, 2)
      network.down = false
      const afterOutage = () => sends(calls, 111).filter((c) => c.at >= 60_000).map((c) => c.payload["text"])
      yield* TestClock.adjust("5 minutes")
      yield* settle(() => afterOutage().length >= 2)
      assert.deepStrictEqual(afterOutage(), ["echo: first [telegram:111]", "echo: second [telegram:111]"])
      assert.strictEqual((yield* Context.get(ctx, Router).stats).outbox.waiting, 0)
    }))

  it.effect("429 retry_after is honoured exactly: nothing is sent before the wait is over", () =>
    Effect.gen(function*() {
      const calls: Array<StubCall> = []
      let limited = false
      const ctx = yield* buildWithDefaults(calls, (call) => {
        if (call.method !== "sendMessage" || limited) return undefined
        limited = true
        return new TelegramApiError({ method: "sendMessage", code: 429, description: "Too Many Requests: retry after 7", retryAfter: 7 })
      })
      const delivery = yield* Context.get(ctx, Router).deliver("telegram:111", { kind: "notify", text: "hi" }, {
        explicit: true
      }).pipe(Effect.forkChild)
      yield* settle(() => sends(calls, 111).length === 1)
      yield* TestClock.adjust("6999 millis")
      assert.strictEqual(sends(calls, 111).length, 1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(delivery)
      assert.deepStrictEqual(sends(calls, 111).map((c) => c.at), [0, 7000])
    }))
})

