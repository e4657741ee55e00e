// Per-client tokens (SWITCHBOARD_API_TOKENS_FILE): a token may use only its own sources — it cannot
// read, post as, or /stop another client — and /v1/messages/:id serves only HTTP and CLI requests.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { ApiTokens } from "../../../src/channels/http/ApiTokens.ts"
import { parseTokensFile } from "../../../src/channels/http/tokensFile.ts"
import { Intake } from "../../../src/core/Intake.ts"
import { RequestLog } from "../../../src/core/RequestLog.ts"
import { Session } from "../../../src/core/Session.ts"
import { baseUrl, gatewayWithHttp, tempStateDir } from "../../support/harness.ts"

const ALICE = "alice-token-0123456789"
const BOB = "bob-token-0123456789ab"
const CAROL = "carol-token-0123456789"
const ADMIN = "admin-token-0123456789"

/** "slow" never ends (until stopped); anything else is echoed. */
const session = Layer.succeed(Session, Session.of({
  prompt: (request) => request.text === "slow" ? Effect.never : Effect.succeed({ text: `echo: ${request.text}` }),
  reset: Effect.void,
  info: Effect.succeed({ provider: "test", model: "slow" })
}))

const call = (base: string, path: string, token: string | undefined, body?: unknown) =>
  Effect.promise(async () => {
    const res = await fetch(`${base}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { "content-type": "application/json" } : {})
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {})
    })
    const text = await res.text()
    let parsed: any = text
    try {
      parsed = JSON.parse(text)
    } catch {
      // /metrics is text
    }
    return { status: res.status, body: parsed }
  })

const isError = (r: { status: number; body: any }, status: number, code: string) => {
  assert.strictEqual(r.status, status, JSON.stringify(r.body))
  assert.strictEqual(r.body.error.code, code)
  assert.isAbove(r.body.error.message.length, 0)
}

const writeTokens = (path: string, tokens: Record<string, unknown>) => writeFileSync(path, JSON.stringify(tokens))

const withTokens = (file: string) =>
  gatewayWithHttp(session, (s) => ({ ...s, http: { ...s.http, apiTokensFile: Option.some(file) } }))

const eventuallyStatus = (base: string, id: string, token: string, status: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const r = yield* call(base, `/v1/messages/${id}`, token)
      if (r.body.status === status) return r
      yield* Effect.sleep("10 millis")
    }
    return assert.fail(`${id} never became ${status}`)
  })

describe("per-client API tokens", () => {
  it.live("http:alice cannot read, post as, or /stop http:bob; her own source is the default; an admin may", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const file = join(dir, "tokens.json")
      writeTokens(file, {
        [ALICE]: { sources: ["http:alice", "cli:alice"] },
        [BOB]: { sources: ["http:bob"] },
        [ADMIN]: { sources: [], admin: true }
      })
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const posted = yield* call(base, "/v1/messages", BOB, { text: "slow", source: "http:bob", id: "b1" })
        assert.strictEqual(posted.status, 202)
        yield* eventuallyStatus(base, "http:bob~b1", BOB, "running")

        isError(yield* call(base, "/v1/messages/http:bob~b1", ALICE), 403, "forbidden")
        isError(yield* call(base, "/v1/messages", ALICE, { text: "hi", source: "http:bob" }), 403, "forbidden")
        isError(yield* call(base, "/v1/messages", ALICE, { text: "/stop", source: "http:bob" }), 403, "forbidden")
        isError(yield* call(base, "/v1/inbox/http:bob", ALICE), 403, "forbidden")
        isError(yield* call(base, "/metrics", ALICE), 403, "forbidden")
        isError(yield* call(base, "/v1/messages/http:bob~b1", undefined), 401, "unauthorized")
        isError(yield* call(base, "/v1/messages/http:bob~b1", "not-a-known-token-at-all"), 401, "unauthorized")
        // Her own /stop does not touch bob's turn.
        const ownStop = yield* call(base, "/v1/messages", ALICE, { text: "/stop" })
        assert.strictEqual(ownStop.status, 202)
        assert.strictEqual((yield* call(base, "/v1/messages/http:bob~b1", BOB)).body.status, "running")

        // Bob stops his own; the admin reads anyone's.
        assert.strictEqual((yield* call(base, "/v1/messages", BOB, { text: "/stop", source: "http:bob" })).status, 202)
        const stopped = yield* eventuallyStatus(base, "http:bob~b1", ADMIN, "failed")
        assert.strictEqual(stopped.body.source, "http:bob")
        assert.strictEqual((yield* call(base, "/metrics", ADMIN)).status, 200)

        // Without a source, alice speaks as her first source; she may also use cli:alice.
        const own = yield* call(base, "/v1/messages", ALICE, { text: "mine", id: "a1" })
        assert.strictEqual(own.body.id, "http:alice~a1")
        assert.strictEqual((yield* eventuallyStatus(base, "http:alice~a1", ALICE, "done")).body.reply, "echo: mine")
        assert.strictEqual((yield* call(base, "/v1/messages", ALICE, { text: "x", source: "cli:alice" })).status, 202)
        const inbox = yield* call(base, "/v1/inbox/http:alice", ALICE)
        assert.deepStrictEqual(inbox.body.messages.map((m: any) => m.text).includes("echo: mine"), true)
      }).pipe(Effect.provide(withTokens(file)))
    }))

  it.live("GET /v1/messages/:id answers 404 for another channel's request, even to the admin", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const intake = yield* Intake
      yield* intake.submit({ id: "telegram:42", source: "telegram:1001", text: "private" })
      const record = yield* (yield* RequestLog).await("telegram:42", 5000)
      assert.strictEqual(record?.status, "done")
      isError(yield* call(base, "/v1/messages/telegram:42", undefined), 404, "not_found")
      // An HTTP request is still served.
      const mine = yield* call(base, "/v1/messages", undefined, { text: "hi", id: "h1" })
      assert.strictEqual((yield* call(base, `/v1/messages/${mine.body.id}?wait=5`, undefined)).body.reply, "echo: hi")
    }).pipe(Effect.provide(gatewayWithHttp(Session.echo))))

  it.live("the file is re-read on reload: new tokens work, removed ones are refused, a bad file keeps the tokens in force", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const file = join(dir, "tokens.json")
      writeTokens(file, { [BOB]: { sources: ["http:bob"] } })
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const tokens = yield* ApiTokens
        assert.strictEqual((yield* call(base, "/v1/inbox/http:bob", BOB)).status, 200)
        writeTokens(file, { [CAROL]: { sources: ["http:carol"] } })
        assert.strictEqual(yield* tokens.reload, 1)
        isError(yield* call(base, "/v1/inbox/http:bob", BOB), 401, "unauthorized")
        assert.strictEqual((yield* call(base, "/v1/inbox/http:carol", CAROL)).status, 200)
        writeFileSync(file, "{ torn")
        const bad = yield* Effect.flip(tokens.reload)
        assert.include(bad.message, "SWITCHBOARD_API_TOKENS_FILE")
        assert.strictEqual((yield* call(base, "/v1/inbox/http:carol", CAROL)).status, 200)
      }).pipe(Effect.provide(withTokens(file)))
    }))

  it("a bad file says what is wrong in one line and never shows a token", () => {
    const reasons = [
      { [ALICE]: { sources: ["telegram"] } },
      { [ALICE]: { sources: [42] } },
      { [ALICE]: { sources: [] } },
      { [ALICE]: {} },
      { "short": { sources: ["http:a"] } },
      { [`${ALICE} with space`]: { sources: ["http:a"] } },
      ["http:a"]
    ].map((doc) => parseTokensFile(JSON.stringify(doc)))
    for (const r of reasons) {
      assert.isTrue("error" in r, JSON.stringify(r))
      const error = (r as { error: string }).error
      assert.notInclude(error, ALICE)
      assert.notInclude(error, "\n")
    }
    const ok = parseTokensFile(JSON.stringify({ [ALICE]: { sources: ["http:team-*"] }, [ADMIN]: { sources: [], admin: true } }))
    assert.isTrue("entries" in ok)
    assert.notInclude(JSON.stringify(ok), ALICE)
  })
})
