// The CLI's view of the daemon: its HTTP API at SWITCHBOARD_URL with SWITCHBOARD_API_TOKEN (or the
// token file: see token.ts).
import { Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { stripControl, stripControlDeep } from "./sanitize.ts"
import { cliToken } from "./token.ts"
import { FetchHttpClient, HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"

export class GatewayUnreachable extends Schema.TaggedError<GatewayUnreachable>()("GatewayUnreachable", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot reach switchboard at ${this.url} (${this.reason}); is the daemon running? (SWITCHBOARD_URL)`
  }
}

export class GatewayRefused extends Schema.TaggedError<GatewayRefused>()("GatewayRefused", {
  status: Schema.Number,
  code: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `switchboard answered ${this.status} ${this.code}: ${this.reason}`
  }
}

export type ClientError = GatewayUnreachable | GatewayRefused

const ErrorBody = Schema.Struct({ error: Schema.Struct({ code: Schema.String, message: Schema.String }) })

export interface InboxMessage {
  readonly seq: number
  readonly kind: string
  readonly requestId?: string
  readonly text: string
  readonly at: string
  readonly question?: { readonly id: string; readonly options: ReadonlyArray<string> }
}

export interface MessageRecord {
  readonly id: string
  readonly status: "queued" | "running" | "done" | "failed"
  readonly reply?: string
  readonly error?: string
}

export class GatewayClient extends Context.Service<GatewayClient, {
  readonly url: string
  readonly getJson: <A = unknown>(path: string) => Effect.Effect<A, ClientError>
  readonly postJson: <A = unknown>(path: string, body: unknown) => Effect.Effect<A, ClientError>
}>()("switchboard/cli/GatewayClient") {
  static readonly layer = (url: string, token: Option.Option<Redacted.Redacted<string>>) =>
    Layer.effect(
      GatewayClient,
      Effect.gen(function*() {
        const http = yield* HttpClient.HttpClient
        const base = url.replace(/\/+$/, "")
        const authorize = (request: HttpClientRequest.HttpClientRequest) =>
          Option.match(cliToken(token), {
            onNone: () => request,
            onSome: (t) => HttpClientRequest.bearerToken(request, Redacted.value(t))
          })

        const decode = <A>(res: HttpClientResponse.HttpClientResponse) =>
          Effect.gen(function*() {
            const text = yield* res.text.pipe(Effect.orElseSucceed(() => ""))
            // Everything printed comes from here: no terminal control sequence gets through.
            const json = yield* Effect.try({ try: () => stripControlDeep(JSON.parse(text)), catch: () => undefined }).pipe(
              Effect.orElseSucceed(() => undefined)
            )
            if (res.status >= 400) {
              const err = Schema.decodeUnknownOption(ErrorBody)(json)
              return yield* new GatewayRefused({
                status: res.status,
                code: Option.match(err, { onNone: () => "error", onSome: (e) => e.error.code }),
                reason: Option.match(err, { onNone: () => stripControl(text.slice(0, 200)), onSome: (e) => e.error.message })
              })
            }
            return json as A
          })

        const execute = <A>(request: HttpClientRequest.HttpClientRequest) =>
          http.execute(authorize(request)).pipe(
            Effect.mapError((e) => new GatewayUnreachable({ url: base, reason: e.message })),
            Effect.flatMap((res) => decode<A>(res))
          )

        return GatewayClient.of({
          url: base,
          getJson: (path) => execute(HttpClientRequest.get(`${base}${path}`)),
          postJson: (path, body) => execute(HttpClientRequest.post(`${base}${path}`).pipe(HttpClientRequest.bodyJsonUnsafe(body)))
        })
      })
    ).pipe(Layer.provide(FetchHttpClient.layer))
}

/** Post a message and wait for its reply (long-polling in steps up to `timeout`). */
export const sendAndWait = (
  text: string,
  source: string,
  timeout: Duration.Duration
): Effect.Effect<MessageRecord, ClientError, GatewayClient> =>
  Effect.gen(function*() {
    const client = yield* GatewayClient
    const accepted = yield* client.postJson<{ id: string; reply?: string }>("/v1/messages", { text, source })
    const deadline = Date.now() + Duration.toMillis(timeout)
    for (;;) {
      const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000))
      const record = yield* client.getJson<MessageRecord>(
        `/v1/messages/${encodeURIComponent(accepted.id)}?wait=${Math.min(left, 30)}`
      ).pipe(
        // Every long-poll slot taken: ask again shortly (undefined) instead of failing the send.
        Effect.catchIf(
          (e) => e._tag === "GatewayRefused" && e.code === "too_many_waiters" && left > 0,
          () => Effect.as(Effect.sleep("1 second"), undefined)
        )
      )
      if (record === undefined) continue
      if (record.status === "done" || record.status === "failed" || left === 0) return record
    }
  })

/** Run a one-shot command against the daemon: a failure prints one line and sets exit code 1. */
export const withClient = (baseUrl: string, token: Option.Option<Redacted.Redacted<string>>) =>
<A, E extends { readonly message: string }>(command: Effect.Effect<A, E, GatewayClient>) =>
  command.pipe(
    Effect.provide(GatewayClient.layer(baseUrl, token)),
    Effect.catch((e) =>
      Effect.sync(() => {
        process.stderr.write(`switchboard: ${e.message}\n`)
        process.exitCode = 1
      })
    )
  )
