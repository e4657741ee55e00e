// The validation list of issue 13: blank texts, application/json-seq, oversized or path-like
// session keys, and paths that do not decode all get a clear 4xx with the error shape.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { CoreRoutes } from "../../../src/channels/http/coreRoutes.ts"
import { AgentRoutes } from "../../../src/channels/http/agentRoutes.ts"
import { Session } from "../../../src/core/Session.ts"
import { baseUrl, gatewayWithHeartbeatHttp, gatewayWithHttp } from "../../support/harness.ts"

const call = (base: string, path: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const res = await fetch(`${base}${path}`, init)
    const text = await res.text()
    return { status: res.status, text, body: text === "" ? undefined : JSON.parse(text) }
  })

const post = (base: string, path: string, body: unknown, type = "application/json") =>
  call(base, path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": type } })

const isError = (r: { status: number; body: any; text: string }, status: number, code: string) => {
  assert.strictEqual(r.status, status, r.text)
  assert.strictEqual(r.body?.error?.code, code, r.text)
  assert.isAbove(r.body.error.message.length, 0)
}

const served = gatewayWithHeartbeatHttp()

describe("HTTP validation", () => {
  it.live("a whitespace-only text is refused; so is a body sent as application/json-seq", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      isError(yield* post(base, "/v1/messages", { text: " \n\t " }), 400, "invalid_body")
      isError(yield* post(base, "/v1/messages", { text: "hi" }, "application/json-seq"), 415, "unsupported_media_type")
      isError(yield* post(base, "/v1/messages", { text: "hi" }, "application/jsonx"), 415, "unsupported_media_type")
      assert.strictEqual((yield* post(base, "/v1/messages", { text: "hi" }, "application/json; charset=utf-8")).status, 202)
      isError(yield* post(base, "/v1/system-events", { sessionKey: "http:a", text: "   " }), 400, "invalid_body")
    }).pipe(Effect.provide(served)))

  it.live("a 10 KB or path-like sessionKey is refused", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      isError(yield* post(base, "/v1/system-events", { sessionKey: `http:${"k".repeat(10 * 1024)}`, text: "x" }), 400, "invalid_body")
      for (const key of ["http:../../etc/passwd", "http:a/b", "http:..", "http:a\\b"]) {
        isError(yield* post(base, "/v1/system-events", { sessionKey: key, text: "x" }), 400, "invalid_body")
      }
      assert.strictEqual((yield* post(base, "/v1/system-events", { sessionKey: "http:a.b", text: "fine", wake: false })).status, 202)
    }).pipe(Effect.provide(served)))

  it.live("/v1/messages/%ZZ is answered 400 with the error shape, an unknown route 404 with it", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      isError(yield* call(base, "/v1/messages/%ZZ"), 400, "invalid_path")
      isError(yield* call(base, "/v1/inbox/%E0%A4%A"), 400, "invalid_path")
      isError(yield* call(base, "/no/such/%ZZ/route"), 400, "invalid_path")
      isError(yield* call(base, "/v1/messages/nope"), 404, "not_found")
    }).pipe(Effect.provide(served)))

  it.live("a whitespace-only answer to a question is refused", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      isError(yield* post(base, "/v1/answers/q-1", { answer: "  " }), 400, "invalid_body")
    }).pipe(Effect.provide(gatewayWithHttp(Session.echo, undefined, Layer.mergeAll(CoreRoutes, AgentRoutes)))))
})
