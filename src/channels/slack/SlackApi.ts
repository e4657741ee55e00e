// The Slack Web API as one Effect call, over @slack/web-api's WebClient pointed at SLACK_API_ROOT
// (slack.com, or the fake in tests). The client is loaded on the first call, so a daemon without
// Slack never loads it. Its own retries are off: the channel and the Router decide what to retry
// (a 429 comes back with Retry-After; a platform error such as channel_not_found is permanent).
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { libraryLogger, type LogSink } from "./libraryLogger.ts"

export class SlackApiError extends Schema.TaggedError<SlackApiError>()("SlackApiError", {
  method: Schema.String,
  /** `ratelimited`, Slack's own error code (`channel_not_found`, …), `http_<status>`, or `unreachable`. */
  error: Schema.String,
  /** Seconds Slack asked us to wait (429 Retry-After). */
  retryAfter: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `${this.method}: ${this.error}${this.retryAfter !== undefined ? ` (retry after ${this.retryAfter} s)` : ""}`
  }
}

export class SlackNotConfigured extends Schema.TaggedError<SlackNotConfigured>()("SlackNotConfigured", {}) {
  override get message() {
    return "SLACK_BOT_TOKEN is not set"
  }
}

export type Payload = Readonly<Record<string, unknown>>

/** Slack errors that a later attempt may get past; every other platform error is permanent. */
const TEMPORARY: ReadonlyArray<string> = ["ratelimited", "unreachable", "internal_error", "fatal_error", "service_unavailable", "request_timeout", "timeout"]

export const isTemporary = (e: SlackApiError) => TEMPORARY.includes(e.error) || /^http_5\d\d$/.test(e.error)

export class SlackApi extends Context.Service<SlackApi, {
  /** Call a Web API method with the bot token; the result is Slack's response, still to be decoded. */
  readonly call: (method: string, payload: Payload) => Effect.Effect<Record<string, unknown>, SlackApiError>
}>()("switchboard/SlackApi") {
  static readonly make = (token: Redacted.Redacted<string>, apiRoot: string, log?: LogSink) =>
    Effect.gen(function*() {
      const client = yield* Effect.cached(
        Effect.promise(async () => {
          const { WebClient } = await import("@slack/web-api")
          return new WebClient(Redacted.value(token), {
            slackApiUrl: `${apiRoot.replace(/\/+$/, "")}/`,
            logger: libraryLogger("slack-web-api", log),
            rejectRateLimitedCalls: true,
            retryConfig: { retries: 0 },
            timeout: 30_000,
            allowAbsoluteUrls: false
          })
        })
      )
      const secret = Redacted.value(token)
      const call = (method: string, payload: Payload) =>
        client.pipe(
          Effect.flatMap((web) =>
            Effect.tryPromise({
              try: () => web.apiCall(method, { ...payload }) as unknown as Promise<Record<string, unknown>>,
              catch: (cause) => toApiError(method, cause, secret)
            })
          ),
          Effect.withSpan("slack.api", { attributes: { "slack.method": method } })
        )
      return SlackApi.of({ call })
    })

  /** From SLACK_BOT_TOKEN and SLACK_API_ROOT. */
  static readonly layer = Layer.effect(
    SlackApi,
    Effect.gen(function*() {
      const config = (yield* GatewayConfig).slack
      const token = yield* Option.match(config.botToken, {
        onNone: () => Effect.fail(new SlackNotConfigured()),
        onSome: Effect.succeed
      })
      return yield* SlackApi.make(token, config.apiRoot)
    })
  )
}

/** A token never leaves in an error message, whatever a library put there. */
export const scrub = (text: string, secret: string) => secret === "" ? text : text.split(secret).join("<token>")

const toApiError = (method: string, cause: unknown, secret: string): SlackApiError => {
  const e = cause as { code?: unknown; data?: { error?: unknown }; retryAfter?: unknown; statusCode?: unknown; message?: unknown }
  switch (e?.code) {
    case "slack_webapi_rate_limited_error":
      return new SlackApiError({ method, error: "ratelimited", ...(typeof e.retryAfter === "number" ? { retryAfter: e.retryAfter } : {}) })
    case "slack_webapi_platform_error":
      return new SlackApiError({ method, error: scrub(String(e.data?.error ?? "unknown_error"), secret) })
    case "slack_webapi_http_error":
      return new SlackApiError({ method, error: `http_${String(e.statusCode)}` })
    default:
      return new SlackApiError({ method, error: "unreachable" })
  }
}
