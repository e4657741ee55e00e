// Shared pieces of the HTTP API: bearer auth, JSON bodies decoded with Schema under a size limit,
// and one error shape `{ error: { code, message } }`. Every route is built with `route`.
import { ByteSize, Context, Effect, Metric, Option, Schema } from "effect"
import { HttpRouter, HttpServerError, HttpServerRequest, HttpServerResponse, HttpTraceContext } from "effect/http"
import { inboundRejected } from "../../domain/metrics.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { ApiTokens } from "./ApiTokens.ts"
import { everyone, mayUse, type Principal } from "./tokensFile.ts"

export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  status: Schema.Number,
  code: Schema.String,
  message: Schema.String
}) {}

export const badRequest = (code: string, message: string) => new ApiError({ status: 400, code, message })
export const notFound = (message: string) => new ApiError({ status: 404, code: "not_found", message })

export const errorResponse = (status: number, code: string, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe({ error: { code, message } }, { status, ...(headers ? { headers } : {}) })

/** The principal of the request being handled (set by `respond`; the one local principal outside it). */
export const CurrentPrincipal = Context.Reference<Principal>("switchboard/http/CurrentPrincipal", {
  defaultValue: () => everyone("local")
})

/** The caller, or 401 unless the request carries a token the daemon knows (when tokens are configured). */
export const authenticate = Effect.gen(function*() {
  const tokens = yield* ApiTokens
  const request = yield* HttpServerRequest.HttpServerRequest
  const m = /^Bearer\s+(.+)$/i.exec(request.headers["authorization"] ?? "")
  const principal = yield* tokens.authenticate(m === null ? undefined : m[1]!.trim())
  if (Option.isSome(principal)) return principal.value
  // Counted and logged (never the header): a stream of these is a misconfigured client or a probe.
  yield* Metric.update(Metric.withAttributes(inboundRejected, { channel: "http", code: "unauthorized" }), 1)
  yield* Effect.logWarning("refused an HTTP request without the right bearer token").pipe(
    Effect.annotateLogs({ method: request.method, path: request.url.split("?")[0] ?? "", remote: request.remoteAddress.pipe(Option.getOrElse(() => "")) })
  )
  return yield* new ApiError({ status: 401, code: "unauthorized", message: "missing or wrong bearer token" })
})

const forbidden = (message: string) => new ApiError({ status: 403, code: "forbidden", message })

/** 403 `forbidden` unless the caller's token may use `source` (post as it, read it, stop it). */
export const allowSource = (source: string) =>
  Effect.gen(function*() {
    const principal = yield* CurrentPrincipal
    if (!mayUse(principal, source)) return yield* forbidden(`this token may not use ${source}`)
  })

/** The source a body without one speaks for: the token's first exact source, else http:default. */
export const defaultSource = Effect.map(CurrentPrincipal, (p) =>
  p.admin ? "http:default" : p.sources.find((s) => !s.endsWith("*")) ?? "http:default")

const formatSchemaError = (e: Schema.SchemaError) => e.message.replace(/\s+/g, " ").trim()

/** The JSON body, within the size limit, decoded with `schema`; every failure is a 4xx ApiError. */
export const jsonBody = <S extends Schema.Constraint & { readonly DecodingServices: never }>(schema: S) =>
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    const request = yield* HttpServerRequest.HttpServerRequest
    const limit = config.http.maxBodyBytes
    const declared = Number(request.headers["content-length"] ?? "0")
    if (declared > limit) {
      return yield* new ApiError({ status: 413, code: "body_too_large", message: `the body is over ${limit} bytes` })
    }
    const type = request.headers["content-type"] ?? ""
    // application/json, with parameters (charset) or not; never application/json-seq and the like.
    if (!/^application\/json\s*(?:;|$)/i.test(type)) {
      return yield* new ApiError({ status: 415, code: "unsupported_media_type", message: "send application/json" })
    }
    const text = yield* request.text.pipe(
      Effect.provideService(HttpServerRequest.MaxBodySize, ByteSize.bytes(limit)),
      Effect.mapError(() =>
        new ApiError({ status: 413, code: "body_too_large", message: `the body is over ${limit} bytes` })
      )
    )
    if (Buffer.byteLength(text) > limit) {
      return yield* new ApiError({ status: 413, code: "body_too_large", message: `the body is over ${limit} bytes` })
    }
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => badRequest("invalid_json", "the body is not valid JSON")
    })
    return yield* Schema.decodeUnknownEffect(schema)(json).pipe(
      Effect.mapError((e) => badRequest("invalid_body", formatSchemaError(e)))
    ) as Effect.Effect<S["Type"], ApiError>
  })

/** Query parameters of the current request. */
export const query = Effect.map(
  HttpServerRequest.HttpServerRequest,
  (request) => new URL(request.url, "http://localhost").searchParams
)

/** Parse a non-negative number query parameter (`wait`, `after`), with a default and an upper bound. */
export const numberParam = (params: URLSearchParams, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER) => {
  const raw = params.get(name)
  if (raw === null || raw === "") return Effect.succeed(fallback)
  const n = Number(raw)
  return Number.isFinite(n) && n >= 0
    ? Effect.succeed(Math.min(n, max))
    : Effect.fail(badRequest("invalid_query", `${name} must be a non-negative number`))
}

/**
 * Refusals that end the connection too: an unauthenticated or oversized request is not read any
 * further (a slow body would hold the socket), a refused long-poll gives its connection back.
 */
const closesConnection = (error: ApiError): Record<string, string> | undefined =>
  error.status === 401 || error.status === 413 || error.code === "too_many_waiters" ? { connection: "close" } : undefined

export interface RouteOptions {
  /** Routes such as /health answer without a token. */
  readonly public?: boolean
  /** Routes about the whole daemon (jobs, reload, metrics, checks): 403 for a token limited to its sources. */
  readonly admin?: boolean
}

export type RouteHandler<E, R> = Effect.Effect<
  HttpServerResponse.HttpServerResponse | { readonly status?: number; readonly body: unknown },
  E,
  R
>

/** The handler behind the token check, with the caller as CurrentPrincipal. */
const authorized = <E, R>(handler: RouteHandler<E, R>, options: RouteOptions): RouteHandler<E | ApiError, R | ApiTokens | HttpServerRequest.HttpServerRequest> =>
  Effect.gen(function*() {
    const principal = yield* authenticate
    if (!principal.admin && options.admin) return yield* forbidden("this route needs an admin token")
    return yield* Effect.provideService(handler, CurrentPrincipal, principal)
  })

/**
 * The server makes no span per HTTP request (layers/HttpServer.ts: a long-poll or /health is not
 * what a person looks for in a trace), but a client's W3C `traceparent` still parents the spans its
 * request causes (`inbound` and the turn after it).
 */
const continueTrace = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    request.headers["traceparent"] === undefined
      ? effect
      : Option.match(HttpTraceContext.fromHeaders(request.headers), {
        onNone: () => effect,
        onSome: (parent) => Effect.withParentSpan(effect, parent)
      }))

/**
 * Run a handler that returns a response or a JSON value (sent with `status`, default 200), behind
 * the bearer token unless public. ApiErrors become their status and the error shape; anything
 * unexpected is a logged 500.
 */
export const respond = <E, R>(handler: RouteHandler<E, R>, options: RouteOptions = {}) =>
  continueTrace(options.public ? handler : authorized(handler, options)).pipe(
    Effect.map((out) =>
      HttpServerResponse.isHttpServerResponse(out)
        ? out
        : HttpServerResponse.jsonUnsafe(out.body, { status: out.status ?? 200 })
    ),
    Effect.catchCause((cause) => {
      const failure = cause.reasons.find((r) => r._tag === "Fail")
      const error = failure?._tag === "Fail" ? failure.error : undefined
      if (error instanceof ApiError) {
        return Effect.succeed(errorResponse(error.status, error.code, error.message, closesConnection(error)))
      }
      return Effect.logError("request failed", cause).pipe(
        Effect.as(errorResponse(500, "internal", "the gateway could not handle this request"))
      )
    })
  )

/** A route of the API: `respond(handler, options)` at `method path`. */
export const route = <E, R>(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: HttpRouter.PathInput,
  handler: RouteHandler<E, R>,
  options: RouteOptions = {}
) => HttpRouter.add(method, path, respond(handler, options))

/**
 * What the router cannot match at all — a path that does not decode (`/v1/messages/%ZZ`), a path
 * parameter over the router's length limit — gets the error shape too, never an empty 404.
 */
export const UnmatchedAsJson = HttpRouter.middleware<{ handles: HttpServerError.HttpServerError }>()(
  (httpEffect) =>
    Effect.catchTag(httpEffect, "HttpServerError", (e) =>
      e.reason._tag !== "RouteNotFound"
        ? Effect.fail(e)
        : Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
          const path = request.url.split("?")[0] ?? ""
          try {
            decodeURIComponent(path)
          } catch {
            return errorResponse(400, "invalid_path", "the path is not valid percent-encoding")
          }
          return errorResponse(404, "not_found", "no such route")
        })) as typeof httpEffect, // the request is there at run time; other errors pass through unchanged
  { global: true }
)
