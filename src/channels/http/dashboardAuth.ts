// Who may look at the dashboard and who may act from it. It shows every chat, so it takes an admin
// token (a per-client token limited to its own sources gets 403). Looking (the page's data,
// /v1/events): a live session cookie, or an admin bearer token (nothing on loopback without a
// token). Acting (stop, approve): a live session cookie and its CSRF token in `x-csrf-token` — a
// cookie alone is what a forged cross-site request would carry.
import { Effect } from "effect"
import { HttpServerRequest } from "effect/http"
import { ApiError, authenticate } from "./api.ts"
import { type DashboardSession, DashboardSessions, SESSION_COOKIE, sameToken } from "./DashboardSessions.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"

/** The session the request's cookie names, while it lives. */
export const currentSession = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const id = request.cookies[SESSION_COOKIE]
  if (id === undefined || id === "") return undefined
  return yield* (yield* DashboardSessions).find(id)
})

/** The API's own token check (which counts and logs a refusal), for an admin token only. */
export const requireAdminToken = Effect.gen(function*() {
  const principal = yield* authenticate
  if (!principal.admin) {
    return yield* new ApiError({ status: 403, code: "forbidden", message: "the dashboard shows every chat: it needs an admin token" })
  }
  return principal
})

/** A live session, or an admin bearer token. */
export const requireViewer = Effect.gen(function*() {
  const session = yield* currentSession
  if (session !== undefined) return session
  yield* requireAdminToken
  return undefined
})

export const requireAction = Effect.gen(function*() {
  const session = yield* currentSession
  if (session === undefined) {
    return yield* new ApiError({ status: 401, code: "unauthorized", message: "log in to the dashboard first" })
  }
  const request = yield* HttpServerRequest.HttpServerRequest
  const sent = request.headers["x-csrf-token"] ?? ""
  if (!sameToken(sent, session.csrf)) {
    yield* Effect.logWarning("refused a dashboard action without its CSRF token").pipe(
      Effect.annotateLogs({ path: request.url.split("?")[0] ?? "" })
    )
    return yield* new ApiError({ status: 403, code: "csrf", message: "missing or wrong x-csrf-token" })
  }
  return session
})

/** `Secure` when the browser reached us over TLS (a proxy in front says so in X-Forwarded-Proto). */
const overTls = (request: HttpServerRequest.HttpServerRequest) =>
  (request.headers["x-forwarded-proto"] ?? "").split(",")[0]!.trim().toLowerCase() === "https"

/** The Set-Cookie value for `session` (or one that ends the cookie, for undefined). */
export const sessionCookie = (session: DashboardSession | undefined, lifetimeMs: number) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const config = yield* GatewayConfig
    const path = config.dashboard.publicPath === "" ? "/" : config.dashboard.publicPath
    const parts = [
      `${SESSION_COOKIE}=${session?.id ?? ""}`,
      "HttpOnly",
      "SameSite=Strict",
      `Path=${path}`,
      `Max-Age=${session === undefined ? 0 : Math.floor(lifetimeMs / 1000)}`,
      ...(overTls(request) ? ["Secure"] : [])
    ]
    return parts.join("; ")
  })
