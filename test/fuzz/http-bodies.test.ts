// Fuzzing the HTTP API's bodies, paths and content types: every answer is a 2xx, or a 4xx/503 with
// the error shape (never a 500, never a crash), and the queue keeps moving: a good message posted
// after the run is answered.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { baseUrl, gatewayWithHeartbeatHttp } from "../support/harness.ts"
import { fuzzParameters, jsonish } from "./budget.ts"

const served = gatewayWithHeartbeatHttp()

const route = fc.constantFrom("/v1/messages", "/v1/system-events", "/v1/answers/q-1", "/v1/checks/x", "/v1/admin/reload")
const contentType = fc.constantFrom("application/json", "application/json; charset=utf-8", "application/json-seq", "text/plain", "", "APPLICATION/JSON")
/** Bodies: JSON of plausible shape with hostile fields, any JSON, and raw text that may not be JSON. */
const body = fc.oneof(
  fc.record({ text: jsonish, source: fc.oneof(jsonish, fc.constantFrom("http:a", "cli:b", "telegram:1")), id: jsonish, priority: jsonish }, { requiredKeys: [] }),
  fc.record({ sessionKey: fc.oneof(jsonish, fc.constantFrom("http:a", "http:../x")), text: jsonish, wake: fc.constant(false) }, { requiredKeys: [] }),
  fc.record({ answer: jsonish }),
  jsonish
).map((v) => JSON.stringify(v) ?? "null")
const rawBody = fc.oneof(body, fc.string(), fc.string({ unit: "binary", maxLength: 300 }))
const path = fc.oneof(
  fc.string({ maxLength: 40 }).map((s) => `/v1/messages/${encodeURIComponent(s)}`),
  fc.constantFrom("/v1/messages/%ZZ", "/v1/inbox/%E0%A4%A", "/v1/inbox/http:a?after=-1", "/v1/messages/x?wait=abc", "/v1/inbox/http:a?after=1e309", "/%", "/v1/inbox/http:a?epoch=../x")
)

const clean = (status: number, text: string) => {
  assert.notStrictEqual(status, 500, text)
  if (status >= 400) {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }
    assert.isString(parsed.error?.code, text)
    assert.isString(parsed.error?.message, text)
  }
}

describe("fuzz: HTTP bodies", () => {
  it.live("every body, content type and path gets a clean answer, and the queue keeps moving", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(route, contentType, rawBody, async (r, type, b) => {
            const res = await fetch(`${base}${r}`, { method: "POST", body: b, headers: type === "" ? {} : { "content-type": type } })
            clean(res.status, await res.text())
          }),
          fuzzParameters(150)
        )
      )
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(path, async (p) => {
            const res = await fetch(`${base}${p}`)
            clean(res.status, await res.text())
          }),
          fuzzParameters(100)
        )
      )
      const posted = yield* Effect.promise(() =>
        fetch(`${base}/v1/messages`, { method: "POST", body: JSON.stringify({ text: "still here", id: "after-fuzz" }), headers: { "content-type": "application/json" } }).then((r) => r.json() as Promise<{ id: string }>)
      )
      const done = yield* Effect.promise(() => fetch(`${base}/v1/messages/${posted.id}?wait=10`).then((r) => r.json() as Promise<{ reply: string }>))
      assert.strictEqual(done.reply, "echo: still here")
    }).pipe(Effect.provide(served)), 120_000)
})
