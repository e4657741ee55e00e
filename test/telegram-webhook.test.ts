// Webhook mode: setWebhook with the secret instead of polling; the route on the daemon's HTTP
// server takes only requests that carry the secret, and answers after the update is handled.
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TelegramChannel } from "../src/channels/telegram/TelegramChannel.ts"
import { TelegramWebhookRoute } from "../src/channels/telegram/webhook.ts"
import { fakeBotApi, textUpdate } from "./support/fakeBotApi.ts"
import { fakeApiLayer, telegramSettings, testCore } from "./support/telegramHarness.ts"

const SECRET = "s3cret-token_value"

describe("Telegram webhook", () => {
  it.live("registers the webhook with its secret, accepts only requests with it, and replies", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const settings = telegramSettings(fake, (s) => ({
        ...s,
        telegram: {
          ...s.telegram,
          webhookUrl: Option.some("https://bot.example.com/hooks/telegram"),
          webhookSecret: Option.some(Redacted.make(SECRET))
        }
      }))
      const server = HttpRouter.serve(TelegramWebhookRoute, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(TelegramChannel.layerWithApi.pipe(Layer.provide(fakeApiLayer(fake)))),
        Layer.provideMerge(testCore(settings)),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
      const ctx = yield* Layer.build(server)
      const base = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a)).pipe(Effect.provideContext(ctx))
      yield* fake.waitFor("setWebhook", () => fake.callsOf("setWebhook").length === 1)
      assert.deepInclude(fake.callsOf("setWebhook")[0]!.payload, {
        url: "https://bot.example.com/hooks/telegram",
        secret_token: SECRET
      })

      const post = (body: unknown, secret?: string) =>
        Effect.promise(() =>
          fetch(`${base}/hooks/telegram`, {
            method: "POST",
            headers: { "content-type": "application/json", ...(secret ? { "x-telegram-bot-api-secret-token": secret } : {}) },
            body: JSON.stringify(body)
          }).then(async (r) => { const t = await r.text(); return { status: r.status, body: t ? JSON.parse(t) : t } })
        )
      const denied = yield* post({ update_id: 1, ...textUpdate(111, "forged") }, "wrong")
      assert.strictEqual(denied.status, 401)
      assert.strictEqual((yield* post({ update_id: 2, ...textUpdate(111, "forged") })).status, 401)

      const accepted = yield* post({ update_id: 3, ...textUpdate(111, "via webhook") }, SECRET)
      assert.deepStrictEqual(accepted, { status: 200, body: { ok: true } })
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1)
      assert.deepStrictEqual(fake.texts(111), ["echo: via webhook [telegram:111]"])
      assert.deepStrictEqual(fake.callsOf("getUpdates"), [], "polled although in webhook mode")
      // Telegram re-sends an update it got no 200 for: answered once.
      assert.strictEqual((yield* post({ update_id: 3, ...textUpdate(111, "via webhook") }, SECRET)).status, 200)
      const bad = yield* post("not an update", SECRET)
      assert.strictEqual(bad.status, 200, "bad input is logged and skipped, not retried forever")
      assert.strictEqual(fake.texts(111).length, 1)
    }))

  it.live("webhook mode without a secret refuses to start", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const settings = telegramSettings(fake, (s) => ({
        ...s,
        telegram: { ...s.telegram, webhookUrl: Option.some("https://bot.example.com/hook") }
      }))
      const error = yield* Layer.build(
        TelegramChannel.layerWithApi.pipe(Layer.provide(fakeApiLayer(fake)), Layer.provide(testCore(settings)))
      ).pipe(Effect.flip)
      assert.strictEqual(error._tag, "ConfigInvalid")
      assert.match(error.message, /TELEGRAM_WEBHOOK_SECRET/)
    }))
})
