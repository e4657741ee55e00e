// The dashboard: its page (GET /) and files (GET /ui/<file>) — plain HTML, CSS and JavaScript
// shipped in the package (src/channels/http/ui/, copied to dist/ui/ by the build), nothing from a
// CDN — and its few routes: a session (login with the bearer token, logout), Stop and Approve/Deny.
// The page holds no data of its own: everything comes from /v1/events after the session check, so
// a visitor without the token sees the login form and nothing else.
import { readFile } from "node:fs/promises"
import { Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Dispatcher } from "../../core/Dispatcher.ts"
import { Questions } from "../../core/Questions.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { ApiError, jsonBody, notFound, route } from "./api.ts"
import { currentSession, requireAction, requireAdminToken, requireViewer, sessionCookie } from "./dashboardAuth.ts"
import { DashboardSessions } from "./DashboardSessions.ts"
import { Source } from "../../domain/model.ts"

/** Where the files are: next to this module in src/, next to main.js in dist/ (the build copies them). */
const UI_DIR = new URL("./ui/", import.meta.url)

const FILES: Readonly<Record<string, string>> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "icon.svg": "image/svg+xml"
}

/** The page and its files carry no data; `no-cache` makes an upgraded daemon's files load at once. */
const HEADERS = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
}

const readUi = (name: string) =>
  Effect.tryPromise({
    try: () => readFile(new URL(name, UI_DIR)),
    catch: () => new ApiError({ status: 500, code: "internal", message: `the dashboard file ${name} is missing from this build` })
  })

const escapeAttr = (s: string) => s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`)

const Page = route("GET", "/", Effect.gen(function*() {
  const config = yield* GatewayConfig
  const html = (yield* readUi("index.html")).toString("utf8")
    // Relative URLs in the page resolve under the reverse proxy's prefix.
    .replace("<head>", `<head>\n<base href="${escapeAttr(config.dashboard.publicPath)}/">`)
  return HttpServerResponse.text(html, { contentType: FILES["index.html"]!, headers: HEADERS })
}), { public: true })

const Asset = route("GET", "/ui/:file", Effect.gen(function*() {
  const { file } = yield* HttpRouter.params
  const type = file === undefined || file === "index.html" ? undefined : FILES[file]
  if (type === undefined) return yield* notFound("no such dashboard file")
  return HttpServerResponse.uint8Array(yield* readUi(file!), { contentType: type, headers: HEADERS })
}), { public: true })

const withCookie = (body: unknown, cookie: string) =>
  HttpServerResponse.jsonUnsafe(body, { headers: { "set-cookie": cookie, "cache-control": "no-store" } })

/** GET /ui/api/session → `{ csrf }` for a live session; opens one when the API would let the request in. */
const Session = route("GET", "/ui/api/session", Effect.gen(function*() {
  const sessions = yield* DashboardSessions
  const existing = yield* requireViewer
  if (existing !== undefined) return { body: { csrf: existing.csrf, expiresAt: new Date(existing.expiresAt).toISOString() } }
  const created = yield* sessions.create
  return withCookie({ csrf: created.csrf, expiresAt: new Date(created.expiresAt).toISOString() }, yield* sessionCookie(created, sessions.lifetimeMs))
}), { public: true })

/** POST /ui/login with `Authorization: Bearer <token>` (the API's own check, an admin token) → a session cookie. */
const Login = route("POST", "/ui/login", Effect.gen(function*() {
  yield* requireAdminToken
  const sessions = yield* DashboardSessions
  const created = yield* sessions.create
  yield* Effect.logInfo("dashboard: a session was opened")
  return withCookie({ csrf: created.csrf, expiresAt: new Date(created.expiresAt).toISOString() }, yield* sessionCookie(created, sessions.lifetimeMs))
}), { public: true })

const Logout = route("POST", "/ui/logout", Effect.gen(function*() {
  const session = yield* currentSession
  const sessions = yield* DashboardSessions
  if (session !== undefined) yield* sessions.end(session.id)
  return withCookie({ loggedOut: true }, yield* sessionCookie(undefined, 0))
}), { public: true })

const StopBody = Schema.Struct({ source: Source })

/** POST /ui/api/stop `{ source }`: `/stop` for that chat — the running turn, if it is that chat's. */
const Stop = route("POST", "/ui/api/stop", Effect.gen(function*() {
  yield* requireAction
  const body = yield* jsonBody(StopBody)
  yield* Effect.annotateCurrentSpan({ "switchboard.source": body.source })
  const stopped = yield* (yield* Dispatcher).abort(body.source)
  yield* Effect.logInfo(stopped ? "dashboard: stopped the running turn" : "dashboard: stop found no running turn for that chat").pipe(
    Effect.annotateLogs({ source: body.source })
  )
  return { body: { stopped } }
}).pipe(Effect.withSpan("dashboard.stop")), { public: true })

const AnswerBody = Schema.Struct({
  questionId: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9-]{1,64}$/, { expected: "a question id" })),
  answer: Schema.Literals(["Approve", "Deny"])
})

/** POST /ui/api/answer `{ questionId, answer: "Approve" | "Deny" }`: an exec approval. */
const Answer = route("POST", "/ui/api/answer", Effect.gen(function*() {
  yield* requireAction
  const body = yield* jsonBody(AnswerBody)
  yield* Effect.annotateCurrentSpan({ "switchboard.question_id": body.questionId, "switchboard.answer": body.answer })
  const answered = yield* (yield* Questions).answer(body.questionId, body.answer)
  if (!answered) return yield* notFound(`no question "${body.questionId}" is waiting for an answer`)
  yield* Effect.logInfo(`dashboard: answered an approval with ${body.answer}`).pipe(Effect.annotateLogs({ questionId: body.questionId }))
  return { body: { questionId: body.questionId, answered: true } }
}).pipe(Effect.withSpan("dashboard.answer")), { public: true })

export const DashboardRoutes = Layer.mergeAll(Page, Asset, Session, Login, Logout, Stop, Answer)
