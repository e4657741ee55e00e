// The Telegram Bot API as one Effect call, over grammY's Api client (which any Bot API server can
// back: api.telegram.org, a self-hosted one, or a fake in tests). Errors become one tagged error
// that keeps what the channel decides on: the code, Telegram's description and retry_after.
import { Context, Duration, Effect, Layer, Option, Predicate, Redacted, Schema } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"

export class TelegramApiError extends Schema.TaggedError<TelegramApiError>()("TelegramApiError", {
  method: Schema.String,
  /** Telegram's error_code; 0 when the server could not be reached or did not answer in time. */
  code: Schema.Number,
  description: Schema.String,
  /** Seconds Telegram asked us to wait (429). */
  retryAfter: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `${this.method}: ${this.code === 0 ? "" : `${this.code} `}${this.description}`
  }
}

export class TelegramNotConfigured extends Schema.TaggedError<TelegramNotConfigured>()("TelegramNotConfigured", {}) {
  override get message() {
    return "TELEGRAM_BOT_TOKEN is not set"
  }
}

const NO_PARAMETERS: ReadonlyArray<string> = ["getMe", "getWebhookInfo", "logOut", "close", "getForumTopicIconStickers"]

export type Payload = Readonly<Record<string, unknown>>

export class TelegramApi extends Context.Service<TelegramApi, {
  /** Call a Bot API method; the result is Telegram's `result`, still to be decoded by the caller. */
  readonly call: (method: string, payload: Payload, timeout?: Duration.Input) => Effect.Effect<unknown, TelegramApiError>
}>()("switchboard/TelegramApi") {
  static readonly make = (token: Redacted.Redacted<string>, apiRoot: string) =>
    Effect.gen(function*() {
      // grammY is loaded only when Telegram is on: it is about 20 MB of an idle daemon's memory.
      const grammy = yield* Effect.promise(() => import("grammy"))
      const api = new grammy.Api(Redacted.value(token), { apiRoot })
      // grammY types each method; the channel sends payloads it builds itself, so call by name.
      const raw = api.raw as unknown as Record<string, (payload: Payload, signal?: AbortSignal) => Promise<unknown>>
      const call = (method: string, payload: Payload, timeout: Duration.Input = "30 seconds") =>
        Effect.tryPromise({
          // grammY calls its parameterless methods (getMe, …) with the signal alone.
          try: (signal) =>
            NO_PARAMETERS.includes(method)
              ? (raw[method] as unknown as (signal: AbortSignal) => Promise<unknown>)(signal)
              : raw[method]!(payload, signal),
          catch: (cause) => toApiError(grammy, method, cause, Redacted.value(token))
        }).pipe(
          Effect.timeoutOrElse({
            duration: timeout,
            orElse: () => Effect.fail(new TelegramApiError({ method, code: 0, description: "timed out" }))
          })
        )
      return TelegramApi.of({ call })
    })

  /** From TELEGRAM_BOT_TOKEN and TELEGRAM_API_ROOT. */
  static readonly layer = Layer.effect(
    TelegramApi,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const token = yield* Option.match(config.telegram.botToken, {
        onNone: () => Effect.fail(new TelegramNotConfigured()),
        onSome: Effect.succeed
      })
      return yield* TelegramApi.make(token, config.telegram.apiRoot)
    })
  )
}

/** Network errors quote the request URL, which holds the token (`/bot<token>/…`): never let it out. */
export const scrubToken = (text: string, token: string) => token === "" ? text : text.split(token).join("<token>")

type Grammy = Pick<typeof import("grammy"), "GrammyError" | "HttpError">

/**
 * What a Bot API error says, decoded: a proxy, a self-hosted server or an emulator may leave out
 * `description` (or send odd types), and that must be an error like any other, not a crash.
 */
const BotApiErrorFields = Schema.Struct({
  error_code: Schema.optional(Schema.Unknown),
  description: Schema.optional(Schema.Unknown),
  parameters: Schema.optional(Schema.Unknown)
})
const RetryAfter = Schema.Struct({ retry_after: Schema.Number })

export const describeBotApiError = (error: unknown): { code: number; description: string; retryAfter?: number } => {
  const fields = Schema.decodeUnknownOption(BotApiErrorFields)(error).pipe(Option.getOrElse(() => ({} as typeof BotApiErrorFields.Type)))
  const code = Predicate.isNumber(fields.error_code) && Number.isFinite(fields.error_code) ? fields.error_code : 0
  const description = Predicate.isString(fields.description) && fields.description.trim() !== ""
    ? fields.description
    : `error without a description (error_code ${code === 0 ? "missing" : code})`
  const retryAfter = Schema.decodeUnknownOption(RetryAfter)(fields.parameters).pipe(Option.map((p) => p.retry_after), Option.getOrUndefined)
  return { code, description, ...(retryAfter !== undefined ? { retryAfter } : {}) }
}

const toApiError = ({ GrammyError, HttpError }: Grammy, method: string, cause: unknown, token: string): TelegramApiError => {
  if (cause instanceof GrammyError) {
    const { code, description, retryAfter } = describeBotApiError(cause)
    return new TelegramApiError({
      method,
      code,
      description: scrubToken(description, token),
      ...(retryAfter !== undefined ? { retryAfter } : {})
    })
  }
  // grammY's own message hides the token, but the wrapped fetch error names the full URL.
  const description = cause instanceof HttpError ? String((cause.error as Error)?.message ?? cause.message) : String(cause)
  return new TelegramApiError({ method, code: 0, description: scrubToken(description, token) })
}

/** Telegram's "can't parse entities": the HTML was rejected, plain text will go through. */
export const isParseError = (e: TelegramApiError) => e.code === 400 && /can't parse entities|unsupported start tag|can't find end tag/i.test(e.description)

/** Retrying cannot help: the bot was blocked or removed, the chat or topic does not exist. */
export const isPermanent = (e: TelegramApiError) =>
  e.code === 403 || e.code === 401 ||
  (e.code === 400 && /chat not found|thread not found|user not found|chat_id is empty|have no rights|not enough rights|PEER_ID_INVALID|bot was kicked/i.test(e.description))
