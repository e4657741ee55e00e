// GET /v1/events: the Events stream as server-sent events (`event: <type>`, `data: <json>`), for
// the dashboard and for scripts. A comment line every KEEPALIVE keeps proxies from closing it.
import { Effect, Layer, Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import { ApiError, route } from "./api.ts"
import { requireViewer } from "./dashboardAuth.ts"
import { type DashEvent, Events } from "./Events.ts"

export const KEEPALIVE = "15 seconds"

export const formatEvent = (e: DashEvent) => `event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`

const GetEvents = route("GET", "/v1/events", Effect.gen(function*() {
  yield* requireViewer
  const events = yield* Events
  const stats = yield* events.stats
  if (stats.clients >= stats.maxClients) {
    return yield* new ApiError({ status: 503, code: "too_many_clients", message: `${stats.maxClients} event clients are connected already` })
  }
  const body = events.subscribe.pipe(
    Stream.map(formatEvent),
    Stream.catch(() => Stream.make(formatEvent({ type: "dropped", data: { reason: "too many event clients" } }))),
    Stream.merge(Stream.tick(KEEPALIVE).pipe(Stream.drop(1), Stream.map(() => ": keep-alive\n\n")), { haltStrategy: "left" }),
    (s) => Stream.concat(Stream.make("retry: 3000\n\n"), s),
    Stream.encodeText
  )
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: { "cache-control": "no-cache", "x-accel-buffering": "no" }
  })
}), { public: true })

export const EventsRoutes = Layer.mergeAll(GetEvents)
