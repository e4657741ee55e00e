// The dashboard's page, its session cookie and CSRF token, over a real socket.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer, Option, Redacted } from "effect"
import { TestClock } from "effect/testing"
import { DashboardSessions } from "../../../src/channels/http/DashboardSessions.ts"
import { APPROVE, approvalQuestion, DENY } from "../../../src/agent/exec/ExecApproval.ts"
import { Questions } from "../../../src/core/Questions.ts"
import { baseUrl, scriptedSession, testConfig } from "../../support/harness.ts"
import { dashboardGateway } from "../../support/dashboardHarness.ts"
import { httpCall } from "../../support/httpCall.ts"
import { connectSse } from "../../support/sse.ts"

const TOKEN = "dash-token-1"
const withToken = (s: any) => ({ ...s, http: { ...s.http, apiToken: Option.some(Redacted.make(TOKEN)) } })

const call = httpCall

const cookieOf = (headers: Headers) => (headers.get("set-cookie") ?? "").split(";")[0]!

const login = (base: string, token: string, extra: Record<string, string> = {}) =>
  call(`${base}/ui/login`, { method: "POST", headers: { authorization: `Bearer ${token}`, ...extra } })

describe("the dashboard", () => {
  it.live("serves its page and files without data; everything else needs the token or a session", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const page = yield* call(`${base}/`)
        assert.strictEqual(page.status, 200)
        assert.match(page.headers.get("content-type")!, /^text\/html/)
        assert.include(page.body, `<base href="/">`)
        assert.include(page.body, `id="login-form"`)
        assert.match(page.headers.get("content-security-policy")!, /script-src 'self'/)
        const js = yield* call(`${base}/ui/app.js`)
        assert.strictEqual(js.status, 200)
        assert.match(js.headers.get("content-type")!, /^text\/javascript/)
        assert.strictEqual((yield* call(`${base}/ui/..%2Fapi.ts`)).status, 404)
        assert.strictEqual((yield* call(`${base}/ui/nothing.js`)).status, 404)

        // Without the token: no session, no events, no status.
        assert.strictEqual((yield* call(`${base}/ui/api/session`)).status, 401)
        assert.strictEqual((yield* call(`${base}/v1/events`)).status, 401)
        assert.strictEqual((yield* login(base, "wrong")).status, 401)
        assert.strictEqual((yield* call(`${base}/ui/api/session`, { headers: { cookie: "sb_session=forged" } })).status, 401)
      }).pipe(Effect.provide(dashboardGateway(layer, withToken)))
    }))

  it.live("a login with the token gives an HttpOnly SameSite=Strict cookie that opens the events; Secure behind TLS", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const ok = yield* login(base, TOKEN)
        assert.strictEqual(ok.status, 200)
        const setCookie = ok.headers.get("set-cookie")!
        assert.match(setCookie, /^sb_session=[A-Za-z0-9_-]{40,};/)
        assert.match(setCookie, /; HttpOnly/)
        assert.match(setCookie, /; SameSite=Strict/)
        assert.match(setCookie, /; Path=\//)
        assert.match(setCookie, /; Max-Age=43200/)
        assert.notMatch(setCookie, /Secure/)
        assert.notInclude(setCookie, TOKEN)
        const cookie = cookieOf(ok.headers)
        const session = yield* call(`${base}/ui/api/session`, { headers: { cookie } })
        assert.strictEqual(session.body.csrf, ok.body.csrf)
        const client = yield* Effect.promise(() => connectSse(`${base}/v1/events`, { cookie }))
        assert.strictEqual((yield* Effect.promise(() => client.next(() => true, "snapshot"))).type, "snapshot")
        client.close()

        const tls = yield* login(base, TOKEN, { "x-forwarded-proto": "https" })
        assert.match(tls.headers.get("set-cookie")!, /; Secure$/)

        const out = yield* call(`${base}/ui/logout`, { method: "POST", headers: { cookie } })
        assert.match(out.headers.get("set-cookie")!, /Max-Age=0/)
        assert.strictEqual((yield* call(`${base}/ui/api/session`, { headers: { cookie } })).status, 401)
      }).pipe(Effect.provide(dashboardGateway(layer, withToken)))
    }))

  it.live("Stop needs the session's CSRF token: refused without it, and with it the chat's running turn stops", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession(() => Effect.never)
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const posted = yield* call(`${base}/v1/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
          body: JSON.stringify({ text: "slow", source: "http:phone" })
        })
        const { body: session, headers } = yield* login(base, TOKEN)
        const cookie = cookieOf(headers)
        const stop = (extra: Record<string, string>) =>
          call(`${base}/ui/api/stop`, {
            method: "POST",
            headers: { "content-type": "application/json", cookie, ...extra },
            body: JSON.stringify({ source: "http:phone" })
          })
        const refused = yield* stop({})
        assert.strictEqual(refused.status, 403)
        assert.strictEqual(refused.body.error.code, "csrf")
        assert.strictEqual((yield* stop({ "x-csrf-token": "not-it" })).status, 403)
        // A bearer token is not a session: actions come from the page only.
        const bearerOnly = yield* call(`${base}/ui/api/stop`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}`, "x-csrf-token": session.csrf },
          body: JSON.stringify({ source: "http:phone" })
        })
        assert.strictEqual(bearerOnly.status, 401)
        const status = yield* call(`${base}/v1/messages/${posted.body.id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
        assert.strictEqual(status.body.status, "running")

        const stopped = yield* stop({ "x-csrf-token": session.csrf })
        assert.deepStrictEqual(stopped.body, { stopped: true })
        const after = yield* call(`${base}/v1/messages/${posted.body.id}?wait=5`, { headers: { authorization: `Bearer ${TOKEN}` } })
        assert.strictEqual(after.body.status, "failed")
        assert.strictEqual(after.body.error, "Stopped.")
      }).pipe(Effect.provide(dashboardGateway(layer, withToken)))
    }))

  it.live("without a token on loopback it opens directly; behind a proxy prefix the page and the cookie use it", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const session = yield* call(`${base}/ui/api/session`)
        assert.strictEqual(session.status, 200)
        assert.isString(session.body.csrf)
        assert.match(session.headers.get("set-cookie")!, /; Path=\/switchboard;/)
        const page = yield* call(`${base}/`)
        assert.include(page.body, `<base href="/switchboard/">`)
      }).pipe(Effect.provide(dashboardGateway(layer, (s) => ({ ...s, dashboard: { ...s.dashboard, publicPath: "/switchboard" } }))))
    }))

  it.live("sessions are bounded: past the cap the oldest one ends", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const cookies: Array<string> = []
        for (let i = 0; i < 3; i++) cookies.push(cookieOf((yield* login(base, TOKEN)).headers))
        const statusOf = (cookie: string) => Effect.map(call(`${base}/ui/api/session`, { headers: { cookie } }), (r) => r.status)
        assert.deepStrictEqual([yield* statusOf(cookies[0]!), yield* statusOf(cookies[1]!), yield* statusOf(cookies[2]!)], [401, 200, 200])
      }).pipe(Effect.provide(dashboardGateway(layer, (s) => withToken({ ...s, dashboard: { ...s.dashboard, maxSessions: 2 } }))))
    }))
})

describe("exec approvals on the dashboard", () => {
  it.live("a job waiting for approval is listed, and Approve from the page (with its CSRF token) answers it", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const questions = yield* Questions
        const asked = yield* Effect.forkChild(questions.ask("http:ops", approvalQuestion(["make", "deploy"]), [APPROVE, DENY]))
        // Another question (not an approval) is not the dashboard's to answer.
        yield* Effect.forkChild(questions.ask("http:quiz", "Tea or coffee?", ["tea", "coffee"]))
        const session = yield* call(`${base}/ui/api/session`)
        const cookie = cookieOf(session.headers)
        const client = yield* Effect.promise(() => connectSse(`${base}/v1/events`, { cookie }))
        const seen = yield* Effect.promise(() =>
          client.next((e) => (e.type === "snapshot" || e.type === "approvals") && (e.type === "snapshot" ? e.data.approvals : e.data).length > 0, "the approval"))
        const approvals = seen.type === "snapshot" ? seen.data.approvals : seen.data
        assert.strictEqual(approvals.length, 1)
        assert.strictEqual(approvals[0].source, "http:ops")
        assert.include(approvals[0].question, "make deploy")
        client.close()

        const answer = (headers: Record<string, string>) =>
          call(`${base}/ui/api/answer`, {
            method: "POST",
            headers: { "content-type": "application/json", cookie, ...headers },
            body: JSON.stringify({ questionId: approvals[0].id, answer: "Approve" })
          })
        assert.strictEqual((yield* answer({})).status, 403)
        assert.deepStrictEqual((yield* answer({ "x-csrf-token": session.body.csrf })).body, { questionId: approvals[0].id, answered: true })
        const outcome = yield* Fiber.join(asked)
        assert.deepStrictEqual(outcome, { _tag: "Answered", answer: APPROVE, optionIndex: 0 })
      }).pipe(Effect.provide(dashboardGateway(layer)))
    }))
})

describe("DashboardSessions", () => {
  it.effect("a session ends after its lifetime", () =>
    Effect.gen(function*() {
      const sessions = yield* DashboardSessions
      const s = yield* sessions.create
      yield* TestClock.adjust(Duration.hours(11))
      assert.isDefined(yield* sessions.find(s.id))
      yield* TestClock.adjust(Duration.hours(1))
      assert.isUndefined(yield* sessions.find(s.id))
      assert.strictEqual(yield* sessions.count, 0)
    }).pipe(Effect.provide(DashboardSessions.layer.pipe(Layer.provide(testConfig())))))
})
