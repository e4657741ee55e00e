// How the Telegram channel takes messages in: commands addressed to another bot in a group, one
// chat's rate-limited answer never holding up another chat, and offsets across a restart. Each case
// once failed; its comment says how.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Dispatcher } from "../../../src/core/Dispatcher.ts"
import { Intake } from "../../../src/core/Intake.ts"
import { TelegramChannel } from "../../../src/channels/telegram/TelegramChannel.ts"
import { fakeBotApi, textUpdate } from "../../support/fakeBotApi.ts"
import { eventually, fakeApiLayer, startTelegram, telegramSettings, testCore, telegramOver } from "../../support/telegramHarness.ts"

describe("Telegram group commands", () => {
  // `/cmd@<any bot>` was once taken as a command for this bot without comparing the mention with the
  // bot's own username (known from getMe). In a group with several bots, `/stop@other_bot` (or
  // `/new@other_bot`, `/status@other_bot`) meant for another bot stopped this bot's turn (reset its
  // conversation, posted its status).
  it.live("in a group, /stop@another_bot does not stop this bot's running turn", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      const dispatcher = Context.get(ctx, Dispatcher)
      yield* eventually("getMe answered", Effect.sync(() => fake.callsOf("getMe").length > 0))
      fake.push(textUpdate(-100500, "slow:never"))
      yield* eventually("the group's turn runs", Effect.map(dispatcher.active, (a) => a?.source === "telegram:-100500"))

      fake.push(textUpdate(-100500, "/stop@another_bot"))
      // A command for this bot afterwards, as a sync point: it is answered after the one before.
      fake.push(textUpdate(-100500, "/status@switchboard_test_bot"))
      yield* fake.waitFor("the status reply", () => fake.texts(-100500).some((t) => /active/.test(t)))

      assert.notInclude(fake.texts(-100500), "Stopped.", "a command addressed to another bot stopped ours")
      assert.strictEqual((yield* dispatcher.active)?.source, "telegram:-100500", "the turn was aborted")
    }))
})

describe("Telegram inbound never waits on outbound", () => {
  // The answers to /status, /stop and typed answers ("Got it.") were once delivered inside
  // `intake.submit`, which the poll loop awaits before the next getUpdates. When one chat's reply
  // waited (a 429 retry_after, or a busy pacing lane), nobody's messages were fetched: one chat's rate
  // limit stalled every other chat.
  it.live("a rate-limited /status reply in one chat does not hold up another chat's messages", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      fake.fail("sendMessage", { code: 429, description: "Too Many Requests: retry after 3", retryAfter: 3 }, {
        when: (p) => p["chat_id"] === 222
      })
      yield* startTelegram(fake)
      fake.push(textUpdate(222, "/status"))
      yield* fake.waitFor("222's reply is rate limited", () => fake.callsOf("sendMessage", 222).length === 1)
      fake.push(textUpdate(111, "hi"))
      yield* fake.waitFor("both replies", () => fake.texts(111).length === 1 && fake.texts(222).length === 2, 8000)
      const order = fake.callsOf("sendMessage").map((c) => c.payload["chat_id"])
      assert.deepStrictEqual(
        order,
        [222, 111, 222],
        "111's message was not even fetched until 222's rate limit (3 s) was waited out"
      )
    }))
})

describe("Telegram offsets across a restart", () => {
  // The offset moves only once every update of a batch has been handed over. When the process stopped
  // while one update of a batch was still being handed over, the updates of the same batch that Intake
  // already had were once not confirmed at shutdown either: Telegram delivered them again after the
  // restart and they were answered a second time (the in-memory dedupe does not survive a restart).
  it.live("a message answered before a restart is not answered again after it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const patch = telegramSettings(fake)
      const held = { release: false, holding: 0 }
      // A process: a fresh core (nothing survives a restart) and an Intake that holds "hold".
      const processLayer = Effect.gen(function*() {
        const scope = yield* Scope.make()
        const coreCtx = yield* Layer.buildWithScope(testCore(patch), scope)
        const real = Context.get(coreCtx, Intake)
        const intake = Layer.succeed(Intake, Intake.of({
        settle: Effect.void,
          submit: (s) =>
            Effect.gen(function*() {
              if (s.text === "hold" && !held.release) {
                held.holding++
                yield* Effect.never
              }
              return yield* real.submit(s)
            })
        }))
        yield* Layer.buildWithScope(
          telegramOver(fakeApiLayer(fake)).pipe(
        Layer.provide(intake),
            Layer.provide(Layer.succeedContext(coreCtx))
          ),
          scope
        )
        return scope
      })

      const first = yield* processLayer
      // One batch: 111's message is handed over and answered; 222's is still being handed over.
      fake.push(textUpdate(111, "answered once"), textUpdate(222, "hold"))
      yield* fake.waitFor("111's reply", () => fake.texts(111).length === 1)
      yield* eventually("222's message is being handed over", Effect.sync(() => held.holding === 1))
      yield* Scope.close(first, Exit.void)

      held.release = true
      const second = yield* processLayer
      yield* fake.waitFor("222's reply after the restart", () => fake.texts(222).length === 1)
      assert.deepStrictEqual(fake.texts(111), ["echo: answered once [telegram:111]"], "answered twice")
      yield* Scope.close(second, Exit.void)
    }))
})
