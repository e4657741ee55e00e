// Fuzzing Telegram updates (what a Bot API — or a proxy, a self-hosted server, an emulator — may
// deliver): the channel keeps polling, never crashes, and a good message after the bad ones is
// answered: the queue keeps moving.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import fc from "fast-check"
import { Status } from "../../src/core/Status.ts"
import { fakeBotApi, textUpdate } from "../support/fakeBotApi.ts"
import { startTelegram } from "../support/telegramHarness.ts"
import { fuzzParameters, jsonish } from "./budget.ts"

const chatId = fc.oneof(fc.constantFrom(111, 222, -100500, 999), fc.integer(), jsonish)
const user = fc.record({ id: fc.oneof(fc.integer(), jsonish), is_bot: fc.oneof(fc.boolean(), jsonish), first_name: jsonish, username: jsonish }, { requiredKeys: [] })
const message = fc.record({
  message_id: fc.oneof(fc.nat(), jsonish),
  date: fc.oneof(fc.nat(), jsonish),
  chat: fc.oneof(fc.record({ id: chatId, type: fc.oneof(fc.constantFrom("private", "group", "supergroup"), jsonish) }, { requiredKeys: [] }), jsonish),
  from: user,
  text: fc.oneof(fc.string(), fc.constantFrom("/stop", "/status", "/new", "/stop@other_bot", "/status@switchboard_test_bot", ""), jsonish),
  message_thread_id: fc.oneof(fc.nat(), jsonish),
  is_topic_message: fc.oneof(fc.boolean(), jsonish),
  photo: fc.array(jsonish, { maxLength: 2 }),
  document: jsonish,
  sticker: jsonish
}, { requiredKeys: [] })
const callbackQuery = fc.record({
  id: fc.oneof(fc.string(), jsonish),
  from: user,
  data: fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom("q|q-1|0", "r|1|2", "q||", "q|x|999"), jsonish),
  message: fc.oneof(message, jsonish)
}, { requiredKeys: [] })
const update = fc.oneof(
  fc.record({ message }),
  fc.record({ edited_message: message }),
  fc.record({ callback_query: callbackQuery }),
  fc.dictionary(fc.string({ maxLength: 16 }), jsonish, { maxKeys: 3 }).filter((u) => !("update_id" in u))
)

describe("fuzz: Telegram updates", () => {
  it.live("the channel survives any update, keeps polling, and answers the good message after the bad ones", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      let round = 0
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(update, { minLength: 1, maxLength: 8 }), async (updates) => {
            round++
            fake.push(...(updates as Array<Record<string, unknown>>), textUpdate(111, `good ${round}`))
            await Effect.runPromise(
              fake.waitFor(`the reply to good ${round}`, () => fake.texts(111).some((t) => t.includes(`good ${round} `)), 10_000)
            )
          }),
          fuzzParameters(25)
        )
      )
      const health = yield* Context.get(ctx, Status).health
      assert.strictEqual(health.checks["telegram"]?.status, "pass", JSON.stringify(health.checks["telegram"]))
    }), 120_000)
})
