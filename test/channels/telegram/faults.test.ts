// The Telegram channel when the Bot API answers oddly: an error without a description, a start-up
// call that never answers, getUpdates answered at once with nothing, a receive loop that crashes.
// Each once left the channel dead or spinning without a word (issue 13, item 7).
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Deferred, Effect, Layer, Logger } from "effect"
import { TestClock } from "effect/testing"
import { Status } from "../../../src/core/Status.ts"
import { TelegramApi } from "../../../src/channels/telegram/TelegramApi.ts"
import { fakeBotApi, textUpdate } from "../../support/fakeBotApi.ts"
import { ALLOWED, startTelegram, telegramOver, testCore } from "../../support/telegramHarness.ts"

const channelsCheck = (ctx: Context.Context<Status>) =>
  Effect.map(Context.get(ctx, Status).health, (h) => h.checks["channels"]!)

describe("Telegram under an odd Bot API", () => {
  it.live("an error without a description is reported, retried, and the channel answers once the server recovers", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      for (const method of ["getMe", "setMyCommands", "deleteWebhook", "getUpdates"]) {
        fake.fail(method, { code: 502, description: undefined })
      }
      const ctx = yield* startTelegram(fake)
      yield* fake.waitFor("a second getUpdates", () => fake.callsOf("getUpdates").length >= 2)
      const section = (yield* Context.get(ctx, Status).snapshot)["telegram"] as Record<string, any>
      assert.match(section["lastError"] ?? "", /getUpdates: 502 error without a description/)
      fake.push(textUpdate(111, "still there?"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1)
      assert.deepStrictEqual((yield* channelsCheck(ctx)).status, "pass")
    }))

  it.live("a setMyCommands that never answers does not hold up receiving", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      fake.hold("setMyCommands")
      yield* startTelegram(fake)
      fake.push(textUpdate(111, "hello"))
      yield* fake.waitFor("the reply while setMyCommands hangs", () => fake.texts(111).length === 1, 3000)
    }))
})

describe("Telegram polling on the TestClock", () => {
  /** A Bot API whose getUpdates answers with `getUpdates()` (and deleteWebhook with `deleteWebhook`). */
  const stub = (
    getUpdates: () => Effect.Effect<unknown>,
    polls: Array<number>,
    deleteWebhook: Effect.Effect<unknown> = Effect.succeed(true)
  ) =>
    Layer.succeed(
      TelegramApi,
      TelegramApi.of({
        call: (method) =>
          method === "getUpdates"
            ? Effect.flatMap(Clock.currentTimeMillis, (now) => {
              polls.push(now)
              return getUpdates()
            })
            : method === "deleteWebhook"
            ? deleteWebhook
            : Effect.succeed(true)
      })
    )
  const build = (api: Layer.Layer<TelegramApi>) =>
    Layer.build(
      telegramOver(api).pipe(
        Layer.provideMerge(testCore((s) => ({ ...s, telegram: { ...s.telegram, allowedChatIds: ALLOWED } })))
      )
    )

  it.effect("a Bot API that answers getUpdates at once with nothing is asked about once a second, not in a tight loop", () =>
    Effect.gen(function*() {
      const polls: Array<number> = []
      yield* build(stub(() => Effect.succeed([]), polls))
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      for (let t = 0; t < 10; t++) yield* TestClock.adjust("1 second")
      assert.isAtMost(polls.length, 11, `${polls.length} polls in 10 s`)
      assert.isAtLeast(polls.length, 10)
    }))

  it.effect("a receive loop that dies is logged, started again with backoff, and /health fails while it cannot receive", () =>
    Effect.gen(function*() {
      const polls: Array<number> = []
      const errors: Array<string> = []
      let crashes = 3
      const ctx = yield* build(stub(
        () => crashes-- > 0 ? Effect.die(new Error("unexpected shape")) : Effect.never,
        polls
      )).pipe(
        Effect.provide(Logger.layer([Logger.make(({ logLevel, message }) => {
          if (logLevel === "Error") errors.push(String(Array.isArray(message) ? message[0] : message))
        })]))
      )
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      assert.match(errors[0] ?? "", /^telegram receive stopped: unexpected shape; starting it again in 1s/)
      for (let t = 0; t < 3; t++) yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(polls, [0, 1000, 3000])
      // Up after the deleteWebhook of a run that then died: only a later failure says it is not receiving.
      const check = yield* channelsCheck(ctx)
      assert.strictEqual(check.status, "warn")
      assert.match(check.detail!, /telegram not receiving .*telegram receive crashed: unexpected shape/)
      yield* TestClock.adjust("4 seconds")
      assert.deepStrictEqual(polls, [0, 1000, 3000, 7000])
      assert.strictEqual((yield* channelsCheck(ctx)).status, "pass")
    }))

  it.effect("/health warns while the channel is not receiving yet, fails after a minute of that, and passes once it is", () =>
    Effect.gen(function*() {
      const polls: Array<number> = []
      const webhookRemoved = yield* Deferred.make<void>()
      const ctx = yield* build(stub(() => Effect.succeed([]), polls, Effect.as(Deferred.await(webhookRemoved), true)))
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      const starting = yield* channelsCheck(ctx)
      assert.strictEqual(starting.status, "warn")
      assert.match(starting.detail!, /telegram not receiving yet \(starting for 0 s\)/)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual((yield* channelsCheck(ctx)).status, "fail")
      yield* Deferred.succeed(webhookRemoved, undefined)
      for (let i = 0; i < 100; i++) yield* Effect.yieldNow
      assert.deepStrictEqual(yield* channelsCheck(ctx), { status: "pass" })
      assert.deepStrictEqual(polls.length, 1, "polling started only after the start-up call answered")
    }))
})
