// Webhook mode: Telegram POSTs each update to TELEGRAM_WEBHOOK_URL, which a reverse proxy maps to
// the same path on the daemon's HTTP server. The channel adds the route while it runs. It is public
// (Telegram sends no bearer token) but every request must carry TELEGRAM_WEBHOOK_SECRET in
// X-Telegram-Bot-Api-Secret-Token. It answers 200 only after the update was handled, so Telegram
// re-sends what we did not take.
import { timingSafeEqual } from "node:crypto"
import { Effect, Redacted, Schema } from "effect"
import { HttpServerRequest } from "effect/http"
import { ConfigInvalid } from "../../config/GatewayConfig.ts"
import { ApiError, jsonBody } from "../http/api.ts"
import { ChannelRoutes } from "../http/ChannelRoutes.ts"

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** The path of TELEGRAM_WEBHOOK_URL, where the route is served. */
export const webhookPath = (url: string) =>
  Effect.try({
    try: () => new URL(url).pathname as `/${string}`,
    catch: () => new ConfigInvalid({ variable: "TELEGRAM_WEBHOOK_URL", expected: "an https URL" })
  })

/** Serve the webhook route while the caller's scope lives; `handle` never fails. */
export const serveWebhook = (options: {
  readonly path: `/${string}`
  readonly secret: Redacted.Redacted<string>
  readonly handle: (update: unknown) => Effect.Effect<void>
}) =>
  Effect.gen(function*() {
    const routes = yield* ChannelRoutes
    const receive = Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const given = request.headers["x-telegram-bot-api-secret-token"] ?? ""
      if (!sameSecret(given, Redacted.value(options.secret))) {
        yield* Effect.logWarning("refused a Telegram webhook request without the right secret token")
        return yield* new ApiError({ status: 401, code: "unauthorized", message: "missing or wrong secret token" })
      }
      yield* options.handle(yield* jsonBody(Schema.Unknown))
      return { body: { ok: true } }
    })
    yield* routes.add("POST", options.path, receive, { public: true })
  })
