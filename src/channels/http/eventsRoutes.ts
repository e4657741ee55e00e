// GET /v1/events: the Events stream as server-sent events (`event: <type>`, `data: <json>`), for
// the dashboard and for scripts. A comment line every KEEPALIVE keeps proxies from closing it.
import type { IncomingMessage } from "node:http"
import { Effect, Layer, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"
import { ApiError, route } from "./api.ts"
import { requireViewer } from "./dashboardAuth.ts"
import { Events, sseFrame } from "./Events.ts"

export const KEEPALIVE = "15 seconds"

/** A dropped client that does not read its last events either loses its connection after this. */
export const DROPPED_GRACE_MS = 10_000


const GetEvents = route("GET", "/v1/events", Effect.gen(function*() {
  yield* requireViewer
  const events = yield* Events
  const stats = yield* events.stats
  if (stats.clients >= stats.maxClients) {
    return yield* new ApiError({ status: 503, code: "too_many_clients", message: `${stats.maxClients} event clients are connected already` })
  }
  const request = yield* HttpServerRequest.HttpServerRequest
  const socket = (request.source as IncomingMessage).socket
  // The stream ends only when this client was dropped (or the daemon stops): its notice is queued
  // behind what it did not read, and a client that reads nothing must not keep the socket for ever.
  // (A Node timer, unref'd: it never holds up the daemon's exit.)
  const letGo = Effect.sync(() => void setTimeout(() => socket.destroy(), DROPPED_GRACE_MS).unref())
  const body = events.subscribe.pipe(
    Stream.onEnd(letGo),
    Stream.map((e) => e.frame),
    Stream.catch(() => Stream.make(sseFrame({ type: "dropped", data: { reason: "too many event clients" } }))),
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
