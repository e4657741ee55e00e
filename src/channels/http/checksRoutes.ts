// Routes of background checks, webhooks and the digest: GET /v1/checks, POST /v1/checks/:name (a
// pushed result), POST /v1/hooks/:name (signed webhooks: public, authenticated by their
// signature), POST /v1/digest/flush (`switchboard digest --now`).
import { ByteSize, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { Checks } from "../../checks/Checks.ts"
import { Severity } from "../../checks/checkFile.ts"
import { Digest } from "../../checks/Digest.ts"
import { Webhooks } from "../../checks/Webhooks.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { ApiError, jsonBody, route } from "./api.ts"

const ResultBody = Schema.Struct({
  status: Schema.Literals(["ok", "fail"]),
  detail: Schema.optional(Schema.String.check(Schema.isMaxLength(2000, { expected: "a detail of at most 2000 characters" }))),
  severity: Schema.optional(Severity)
})

const GetChecks = route("GET", "/v1/checks", Effect.gen(function*() {
  return { body: { checks: yield* (yield* Checks).list } }
}), { admin: true })

const PostResult = route("POST", "/v1/checks/:name", Effect.gen(function*() {
  const { name } = yield* HttpRouter.params
  const body = yield* jsonBody(ResultBody)
  const check = yield* (yield* Checks).report(name ?? "", body).pipe(
    Effect.mapError((e) => new ApiError({ status: 404, code: "unknown_check", message: e.message }))
  )
  return { status: 202, body: { check } }
}), { admin: true })

const PostHook = route("POST", "/v1/hooks/:name", Effect.gen(function*() {
  const { name } = yield* HttpRouter.params
  const limit = (yield* GatewayConfig).checks.webhookMaxBytes
  const request = yield* HttpServerRequest.HttpServerRequest
  const tooLarge = new ApiError({ status: 413, code: "body_too_large", message: `the body is over ${limit} bytes` })
  if (Number(request.headers["content-length"] ?? "0") > limit) return yield* tooLarge
  const raw = yield* request.arrayBuffer.pipe(
    Effect.provideService(HttpServerRequest.MaxBodySize, ByteSize.bytes(limit)),
    Effect.mapError(() => tooLarge)
  )
  if (raw.byteLength > limit) return yield* tooLarge
  const outcome = yield* (yield* Webhooks).deliver(name ?? "", request.headers, new Uint8Array(raw)).pipe(
    Effect.mapError((e) => new ApiError({ status: e.status, code: e.code, message: e.reason }))
  )
  return outcome._tag === "Duplicate"
    ? { status: 200, body: { duplicate: true, deliveryId: outcome.deliveryId } }
    : { status: 202, body: { accepted: true, action: outcome.action, deliveryId: outcome.deliveryId ?? null } }
}), { public: true })

const PostDigestFlush = route("POST", "/v1/digest/flush", Effect.gen(function*() {
  return { body: { flushed: yield* (yield* Digest).flush } }
}), { admin: true })

export const ChecksRoutes = Layer.mergeAll(GetChecks, PostResult, PostHook, PostDigestFlush)
