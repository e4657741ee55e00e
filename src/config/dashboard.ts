// Settings of the dashboard (GET /, /ui/…) and its event stream (GET /v1/events).
import { Config, Option, Schema } from "effect"
import { duration, httpUrl, positiveInt } from "./values.ts"

/** `/switchboard` or empty: the prefix a reverse proxy serves the daemon under. */
const PublicPath = Config.schema(
  Schema.String.check(Schema.isPattern(/^(\/[A-Za-z0-9._~-]+)*\/?$/, { expected: "a path such as /switchboard" })),
  "SWITCHBOARD_PUBLIC_PATH"
).pipe(Config.withDefault(""), Config.map((p) => p.replace(/\/+$/, "")))

export const DashboardConfig = Config.all({
  /** Jaeger's UI (`http://localhost:16686`): each request links to its trace there. */
  jaegerUrl: Config.option(httpUrl("SWITCHBOARD_JAEGER_URL", "")).pipe(Config.map(Option.filter((s) => s.length > 0))),
  publicPath: PublicPath,
  /** Dashboard sessions (cookies) at once; the oldest is ended beyond it. */
  maxSessions: positiveInt("SWITCHBOARD_DASHBOARD_MAX_SESSIONS", 32),
  sessionLifetime: duration("SWITCHBOARD_DASHBOARD_SESSION_LIFETIME", "12 hours"),
  /** /v1/events clients at once; beyond them 503 `too_many_clients`. */
  maxEventClients: positiveInt("SWITCHBOARD_EVENTS_MAX_CLIENTS", 32),
  /** Events waiting for one slow client; past it the client is dropped (with a notice). */
  eventBuffer: positiveInt("SWITCHBOARD_EVENTS_BUFFER", 256)
})
