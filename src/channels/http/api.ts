// Shared pieces of the HTTP API: bearer auth, JSON bodies decoded with Schema under a size limit,
// and one error shape `{ error: { code, message } }`. Every route is built with `route`.
import { timingSafeEqual } from "node:crypto"
import { ByteSize, Effect, Metric, Option, Redacted, Schema } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { inboundRejected } from "../../domain/metrics.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"

export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  status: Schema.Number,
  code: Schema.String,
  message: Schema.String
}) {}

export const badRequest = (code: string, message: string) => new ApiError({ status: 400, code, message })
export const notFound = (message: string) => new ApiError({ status: 404, code: "not_found", message })

export const errorResponse = (status: number, code: string, message: string, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe({ error: { code, message } }, { status, ...(headers ? { headers } : {}) })

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Fails with 401 unless the request carries the configured bearer token (if one is set). */
export const requireAuth = Effect.gen(function*() {
  const config = yield* GatewayConfig
  if (Option.isNone(config.http.apiToken)) return
  const request = yield* HttpServerRequest.HttpServerRequest
  const header = request.headers["authorization"] ?? ""
  const m = /^Bearer\s+(.+)$/i.exec(header)
  if (m === null || !sameSecret(m[1]!.trim(), Redacted.value(config.http.apiToken.value))) {
    // Counted and logged (never the header): a stream of these is a misconfigured client or a probe.
    yield* Metric.update(Metric.withAttributes(inboundRejected, { channel: "http", code: "unauthorized" }), 1)
    yield* Effect.logWarning("refused an HTTP request without the right bearer token").pipe(
      Effect.annotateLogs({ method: request.method, path: request.url.split("?")[0] ?? "", remote: request.remoteAddress.pipe(Option.getOrElse(() => "")) })
    )
    return yield* new ApiError({ status: 401, code: "unauthorized", message: "missing or wrong bearer token" })
  }
})

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
    if (!/^application\/json\b/i.test(type)) {
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
}

export type RouteHandler<E, R> = Effect.Effect<
  HttpServerResponse.HttpServerResponse | { readonly status?: number; readonly body: unknown },
  E,
  R
>

/**
 * Run a handler that returns a response or a JSON value (sent with `status`, default 200), behind
 * the bearer token unless public. ApiErrors become their status and the error shape; anything
 * unexpected is a logged 500.
 */
export const respond = <E, R>(handler: RouteHandler<E, R>, options: RouteOptions = {}) =>
  (options.public ? handler : Effect.andThen(requireAuth, handler)).pipe(
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
