// Bad input on every route, auth, and the error shape — over a real socket.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { Session } from "../../../src/core/Session.ts"
import { baseUrl, gatewayWithHttp } from "../../support/harness.ts"
import { httpCall } from "../../support/httpCall.ts"

const TOKEN = "s3cret-token"

/** A session whose turns never end: the queue fills up behind it. */
const neverSession = Layer.succeed(Session, Session.of({
  prompt: () => Effect.never,
  reset: Effect.void,
  info: Effect.succeed({ provider: "test", model: "never" })
}))

const call = (base: string, path: string, init: RequestInit = {}) => httpCall(`${base}${path}`, init)

const postRaw = (base: string, body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
  call(base, "/v1/messages", { method: "POST", body, headers })

const isError = (r: { status: number; body: any }, status: number, code: string) => {
  assert.strictEqual(r.status, status, JSON.stringify(r.body))
  assert.strictEqual(r.body.error.code, code)
  assert.isString(r.body.error.message)
  assert.isAbove(r.body.error.message.length, 0)
}

describe("HTTP API input validation", () => {
  it.live("rejects malformed JSON, wrong types, bad sources, bad ids, oversized bodies and bad query values", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      isError(yield* postRaw(base, "{not json"), 400, "invalid_json")
      isError(yield* postRaw(base, JSON.stringify({ text: 42 })), 400, "invalid_body")
      isError(yield* postRaw(base, JSON.stringify({})), 400, "invalid_body")
      isError(yield* postRaw(base, JSON.stringify({ text: "" })), 400, "invalid_body")
      isError(yield* postRaw(base, JSON.stringify([1, 2])), 400, "invalid_body")
      isError(yield* postRaw(base, JSON.stringify({ text: "hi", source: "telegram:1" })), 400, "invalid_body")
      isError(yield* postRaw(base, JSON.stringify({ text: "hi", id: "has space" })), 400, "invalid_body")
      isError(yield* postRaw(base, JSON.stringify({ text: "hi", priority: "command" })), 400, "invalid_body")
      isError(yield* postRaw(base, "text=hi", { "content-type": "application/x-www-form-urlencoded" }), 415, "unsupported_media_type")
      isError(yield* postRaw(base, JSON.stringify({ text: "x".repeat(2000) })), 413, "body_too_large")
      isError(yield* call(base, "/v1/messages/nope"), 404, "not_found")
      isError(yield* call(base, "/v1/messages/nope?wait=abc"), 400, "invalid_query")
      isError(yield* call(base, "/v1/inbox/telegram:1"), 400, "invalid_source")
      isError(yield* call(base, "/v1/inbox/http:a?after=-1"), 400, "invalid_query")
      isError(yield* call(base, "/no/such/route"), 404, "not_found")
      // The daemon is still up and answers a good request.
      const ok = yield* postRaw(base, JSON.stringify({ text: "still here", id: "ok-1" }))
      assert.strictEqual(ok.status, 202)
      const done = yield* call(base, `/v1/messages/${ok.body.id}?wait=5`)
      assert.strictEqual(done.body.reply, "echo: still here")
    }).pipe(Effect.provide(gatewayWithHttp(Session.echo, (s) => ({ ...s, http: { ...s.http, maxBodyBytes: 1024 } })))))

  it.live("a repeated idempotency key is accepted once and answered once", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const first = yield* postRaw(base, JSON.stringify({ text: "once", id: "idem-1", source: "http:x" }))
      const second = yield* postRaw(base, JSON.stringify({ text: "once", id: "idem-1", source: "http:x" }))
      assert.deepStrictEqual([first.status, second.status], [202, 202])
      assert.strictEqual(second.body.duplicate, true)
      assert.strictEqual(second.body.id, first.body.id)
      yield* call(base, `/v1/messages/${first.body.id}?wait=5`)
      const inbox = yield* call(base, "/v1/inbox/http:x")
      assert.deepStrictEqual(inbox.body.messages.map((m: any) => m.text), ["echo: once"])
    }).pipe(Effect.provide(gatewayWithHttp(Session.echo))))

  it.live("a full queue answers 503 queue_full with a clear message", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const statuses: Array<number> = []
      let refusal: any
      for (let i = 0; i < 6; i++) {
        const r = yield* postRaw(base, JSON.stringify({ text: `m${i}`, id: `q${i}` }))
        statuses.push(r.status)
        if (r.status !== 202) refusal = r
      }
      // The first is taken by the (never-ending) turn; two wait; the rest are refused.
      assert.deepStrictEqual(statuses, [202, 202, 202, 503, 503, 503])
      isError(refusal, 503, "queue_full")
      assert.match(refusal.body.error.message, /queue is full/)
    }).pipe(Effect.provide(gatewayWithHttp(
      neverSession,
      (s) => ({ ...s, queue: { ...s.queue, cap: 2 } })
    ))))
})

describe("HTTP API auth", () => {
  it.live("every route but /health needs the bearer token; the token never appears in /status", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const health = yield* call(base, "/health")
      assert.strictEqual(health.status, 200)
      for (const path of ["/status", "/metrics", "/v1/messages/x", "/v1/inbox/http:a"]) {
        isError(yield* call(base, path), 401, "unauthorized")
        isError(yield* call(base, path, { headers: { authorization: "Bearer wrong" } }), 401, "unauthorized")
      }
      isError(yield* postRaw(base, JSON.stringify({ text: "hi" })), 401, "unauthorized")
      const auth = { authorization: `Bearer ${TOKEN}` }
      const status = yield* call(base, "/status", { headers: auth })
      assert.strictEqual(status.status, 200)
      assert.notInclude(JSON.stringify(status.body), TOKEN)
      const metrics = yield* call(base, "/metrics", { headers: auth })
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.body, "switchboard_queue_depth")
      // The nine refusals above are counted for the operator; the live gauges are there, at 0 when idle.
      assert.match(metrics.body, /^switchboard_inbound_rejected_total\{[^}]*code="unauthorized"[^}]*\} 9$/m)
      assert.match(metrics.body, /^switchboard_queue_oldest_wait_seconds 0$/m)
      assert.match(metrics.body, /^switchboard_turn_running_seconds 0$/m)
      const posted = yield* call(base, "/v1/messages", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ text: "authorised" })
      })
      assert.strictEqual(posted.status, 202)
    }).pipe(Effect.provide(gatewayWithHttp(
      Session.echo,
      (s) => ({ ...s, http: { ...s.http, apiToken: Option.some(Redacted.make(TOKEN)) } })
    ))))
})
