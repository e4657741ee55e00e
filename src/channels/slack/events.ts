// HTTP Events mode: Slack POSTs events (JSON) and button presses (form-encoded `payload=`) to
// SLACK_EVENTS_PATH on the daemon's HTTP server (put a TLS proxy in front; give the same URL as
// Event Subscriptions' and Interactivity's Request URL). The channel adds the route while it runs.
// It is public — Slack sends no bearer token — but every request must carry a valid signature made
// with SLACK_SIGNING_SECRET and a timestamp within five minutes. It answers once the channel has
// the event (for a message: once Intake queued it), so Slack re-sends what we did not take.
import { ByteSize, Clock, Effect, Redacted } from "effect"
import { HttpServerRequest } from "effect/http"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { ApiError, badRequest } from "../http/api.ts"
import { ChannelRoutes } from "../http/ChannelRoutes.ts"
import { checkSignature } from "./signature.ts"

export interface EventsOptions {
  readonly path: `/${string}`
  readonly secret: Redacted.Redacted<string>
  /** Both never fail. */
  readonly handleEvent: (payload: unknown, retryAttempt: number) => Effect.Effect<void>
  readonly handleInteractive: (payload: unknown) => Effect.Effect<void>
}

const tooLarge = (limit: number) => new ApiError({ status: 413, code: "body_too_large", message: `the body is over ${limit} bytes` })

const parse = (text: string) =>
  Effect.try({ try: () => JSON.parse(text) as unknown, catch: () => badRequest("invalid_json", "the body is not valid JSON") })

const receive = (options: EventsOptions) =>
  Effect.gen(function*() {
    const limit = (yield* GatewayConfig).http.maxBodyBytes
    const request = yield* HttpServerRequest.HttpServerRequest
    if (Number(request.headers["content-length"] ?? "0") > limit) return yield* tooLarge(limit)
    const body = yield* request.text.pipe(
      Effect.provideService(HttpServerRequest.MaxBodySize, ByteSize.bytes(limit)),
      Effect.mapError(() => tooLarge(limit))
    )
    const check = checkSignature({
      secret: Redacted.value(options.secret),
      timestamp: request.headers["x-slack-request-timestamp"],
      signature: request.headers["x-slack-signature"],
      body,
      nowSeconds: Math.floor((yield* Clock.currentTimeMillis) / 1000)
    })
    if (check !== "ok") {
      yield* Effect.logWarning(`refused a Slack events request: signature ${check}`)
      return yield* new ApiError({ status: 401, code: "unauthorized", message: `request signature ${check}` })
    }
    if (/application\/x-www-form-urlencoded/i.test(request.headers["content-type"] ?? "")) {
      const payload = new URLSearchParams(body).get("payload")
      if (payload === null) return yield* badRequest("invalid_body", "expected a payload field")
      yield* options.handleInteractive(yield* parse(payload))
      return { body: {} }
    }
    const event = (yield* parse(body)) as { readonly type?: unknown; readonly challenge?: unknown }
    if (event?.type === "url_verification") return { body: { challenge: String(event.challenge ?? "") } }
    yield* options.handleEvent(event, Number(request.headers["x-slack-retry-num"] ?? "0") || 0)
    return { body: { ok: true } }
  })

/** Serve the events route while the caller's scope lives. */
export const serveEvents = (options: EventsOptions) =>
  Effect.gen(function*() {
    const routes = yield* ChannelRoutes
    yield* routes.add("POST", options.path, receive(options), { public: true })
  })
