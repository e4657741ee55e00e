// The built daemon with a channel that cannot start receiving yet: the HTTP API answers, /health
// says `warn` (naming the channel) until every enabled channel receives, then `pass`.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { daemonScoped } from "../support/daemon.ts"
import { fakeBotApi, textUpdate } from "../support/fakeBotApi.ts"

describe("channels at start-up", () => {
  it.live("/health warns while an enabled channel is not receiving yet, and passes once it is", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      // The Bot API does not answer the channel's first call yet: the channel cannot be up.
      fake.hold("deleteWebhook")
      const daemon = yield* daemonScoped({
        env: {
          TELEGRAM_BOT_TOKEN: fake.token,
          TELEGRAM_API_ROOT: fake.url,
          TELEGRAM_ALLOWED_CHAT_IDS: "111",
          TELEGRAM_POLL_TIMEOUT: "5 seconds"
        }
      })
      yield* fake.waitFor("the channel's first call", () => fake.callsOf("deleteWebhook").length === 1, 10_000)
      const waiting = yield* Effect.promise(() => daemon.json("/health"))
      assert.strictEqual(waiting.status, 200)
      assert.strictEqual(waiting.body.status, "warn")
      assert.match(waiting.body.checks.channels.detail, /^telegram not receiving yet \(starting for \d+ s\)$/)

      fake.release("deleteWebhook")
      yield* Effect.promise(async () => {
        for (let i = 0; i < 200; i++) {
          if ((await daemon.json("/health")).body.checks.channels.status === "pass") return
          await new Promise((r) => setTimeout(r, 25))
        }
        throw new Error("the channels check never passed")
      })
      fake.push(textUpdate(111, "hello"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1, 10_000)
    }))
})
