// Webhook mode: setWebhook with the secret instead of polling; the route on the daemon's HTTP
// server takes only requests that carry the secret, and answers after the update is handled.
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option, Redacted } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TelegramChannel } from "../../../src/channels/telegram/TelegramChannel.ts"
import { ChannelRoutesFallback } from "../../../src/channels/http/ChannelRoutes.ts"
import { ApiTokens } from "../../../src/channels/http/ApiTokens.ts"
import { ConfigInvalid } from "../../../src/config/GatewayConfig.ts"
import { Intake } from "../../../src/core/Intake.ts"
import { fakeBotApi, textUpdate } from "../../support/fakeBotApi.ts"
import { eventually, fakeApiLayer, telegramSettings, testCore, telegramOver } from "../../support/telegramHarness.ts"

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
      const server = HttpRouter.serve(ChannelRoutesFallback, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(telegramOver(fakeApiLayer(fake))),
        Layer.provideMerge(ApiTokens.layer),
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
        telegramOver(fakeApiLayer(fake)).pipe(
        Layer.provide(testCore(settings)))
      ).pipe(Effect.flip)
      assert.instanceOf(error, ConfigInvalid)
      assert.match((error as ConfigInvalid).message, /TELEGRAM_WEBHOOK_SECRET/)
    }))
})

describe("Telegram webhook retries", () => {
  // An update id was once marked as seen before it was handled. The handler runs in the HTTP request's
  // fiber, which is interrupted when the client goes away; when Telegram gave up on a slow request and
  // re-sent the update, the re-sent one was dropped as a duplicate (answered 200, never handed to
  // Intake): the message was lost.
  it.live("a webhook update whose first request was cut off is handled when Telegram re-sends it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const secret = "s3cret-token_value"
      const settings = telegramSettings(fake, (s) => ({
        ...s,
        telegram: {
          ...s.telegram,
          webhookUrl: Option.some("https://bot.example.com/hooks/telegram"),
          webhookSecret: Option.some(Redacted.make(secret))
        }
      }))
      const coreCtx = yield* Layer.build(testCore(settings))
      const real = Context.get(coreCtx, Intake)
      const held = { submits: 0, release: false, interrupted: false }
      const slowIntake = Layer.succeed(Intake, Intake.of({
        settle: Effect.void,
        submit: (s) =>
          Effect.gen(function*() {
            held.submits++
            if (!held.release) {
              yield* Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (held.interrupted = true))))
            }
            return yield* real.submit(s)
          })
      }))
      const server = HttpRouter.serve(ChannelRoutesFallback, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(
          telegramOver(fakeApiLayer(fake)).pipe(
        Layer.provide(slowIntake))
        ),
        Layer.provideMerge(ApiTokens.layer),
        Layer.provideMerge(Layer.succeedContext(coreCtx)),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
      const ctx = yield* Layer.build(server)
      const base = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a)).pipe(Effect.provideContext(ctx))
      const update = { update_id: 900, ...textUpdate(111, "do not lose me") }
      const post = (signal?: AbortSignal) =>
        fetch(`${base}/hooks/telegram`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": secret },
          body: JSON.stringify(update),
          ...(signal ? { signal } : {})
        })

      // Telegram's first request hangs while the update is handed over; Telegram gives up on it.
      const controller = new AbortController()
      const first = post(controller.signal).catch(() => "aborted")
      yield* eventually("the first request is being handled", Effect.sync(() => held.submits === 1))
      controller.abort()
      yield* Effect.promise(() => first)
      yield* eventually("the cut-off request's handling was interrupted", Effect.sync(() => held.interrupted))

      // Telegram re-sends the same update; this time Intake takes it at once.
      held.release = true
      const retried = yield* Effect.promise(() => post().then((r) => r.status))
      assert.strictEqual(retried, 200)
      const replied = yield* fake.waitFor("the reply to the re-sent update", () => fake.texts(111).length === 1, 3000)
        .pipe(Effect.exit)
      assert.strictEqual(held.submits, 2, "the re-sent update was dropped as a duplicate and never reached Intake")
      assert.isTrue(Exit.isSuccess(replied), "the message was never answered")
      assert.deepStrictEqual(fake.texts(111), ["echo: do not lose me [telegram:111]"])
    }))
})
