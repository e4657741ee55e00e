// Webhook mode: Telegram POSTs each update to TELEGRAM_WEBHOOK_URL, which a reverse proxy maps to
// this route on the daemon's HTTP server (same path). The route is public (Telegram sends no
// bearer token) but every request must carry the configured X-Telegram-Bot-Api-Secret-Token.
// It answers 200 only after the update was handled, so Telegram re-sends what we did not take.
import { timingSafeEqual } from "node:crypto"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpServerRequest } from "effect/http"
import { ApiError, jsonBody, route } from "../http/api.ts"
import { ConfigInvalid, GatewayConfig } from "../../config/GatewayConfig.ts"
import { TelegramChannel } from "./TelegramChannel.ts"

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const receive = Effect.gen(function*() {
  const channel = yield* TelegramChannel
  const request = yield* HttpServerRequest.HttpServerRequest
  const secret = channel.webhookSecret
  const given = request.headers["x-telegram-bot-api-secret-token"] ?? ""
  if (Option.isNone(secret) || !sameSecret(given, Redacted.value(secret.value))) {
    yield* Effect.logWarning("refused a Telegram webhook request without the right secret token")
    return yield* new ApiError({ status: 401, code: "unauthorized", message: "missing or wrong secret token" })
  }
  yield* channel.handleUpdate(yield* jsonBody(Schema.Unknown))
  return { body: { ok: true } }
})

/**
 * The webhook route at the path of TELEGRAM_WEBHOOK_URL; nothing when webhook mode is off. Compose
 * it with the HTTP routes only when the Telegram channel runs (its handler needs TelegramChannel).
 */
export const TelegramWebhookRoute = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    const url = Option.getOrUndefined(config.telegram.webhookUrl)
    if (url === undefined) return Layer.empty
    const path = yield* Effect.try({
      try: () => new URL(url).pathname as `/${string}`,
      catch: () => new ConfigInvalid({ variable: "TELEGRAM_WEBHOOK_URL", expected: "an https URL" })
    })
    return route("POST", path, receive, { public: true })
  })
)
