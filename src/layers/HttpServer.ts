// The HTTP API on NodeHttpServer at SWITCHBOARD_HTTP_HOST:PORT; logs the bound URL once listening.
// Connections are capped (below the file descriptor limit) and slow clients are cut off: headers
// must arrive within SWITCHBOARD_HTTP_HEADERS_TIMEOUT, the whole request within
// SWITCHBOARD_HTTP_REQUEST_TIMEOUT (a long-poll's wait is the response, not the request).
import { createServer } from "node:http"
import { join } from "node:path"
import { writeFileAtomic } from "../domain/files.ts"
import { Persistence } from "../store/Persistence.ts"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Duration, Effect, Layer } from "effect"
import { HttpMiddleware, HttpRouter, HttpServer } from "effect/http"
import { ConfigInvalid, GatewayConfig } from "../config/GatewayConfig.ts"
import { ApiTokens } from "../channels/http/ApiTokens.ts"
import { UnmatchedAsJson } from "../channels/http/api.ts"
import { HttpLimits } from "../channels/http/HttpLimits.ts"

/** How often Node checks connections against the timeouts (its default, 30 s, would add to them). */
const CHECK_EVERY_MS = 1000

const server = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    const limits = yield* HttpLimits
    const requestTimeout = Duration.toMillis(config.httpLimits.requestTimeout)
    const headersTimeout = Duration.toMillis(config.httpLimits.headersTimeout)
    if (headersTimeout > requestTimeout) {
      return yield* new ConfigInvalid({
        variable: "SWITCHBOARD_HTTP_HEADERS_TIMEOUT",
        expected: `at most SWITCHBOARD_HTTP_REQUEST_TIMEOUT (${Duration.format(config.httpLimits.requestTimeout)})`
      })
    }
    const make = () => {
      const s = createServer({ requestTimeout, headersTimeout, connectionsCheckingInterval: CHECK_EVERY_MS })
      // Beyond the cap Node closes new connections at once ("drop"): no client can use up the
      // descriptors the daemon's own files and connections need.
      s.maxConnections = limits.budget.maxConnections
      s.on("connection", (socket) => {
        limits.opened()
        socket.once("close", limits.closed)
      })
      s.on("drop", limits.dropped)
      return s
    }
    return NodeHttpServer.layer(make, {
      port: config.http.port,
      host: config.http.host,
      // The server closes after the running turn has finished (or been stopped): what is still
      // open then is long-polls (`switchboard chat` always has one), which would otherwise hold
      // the stop for 20 s. They are cut after a second; clients retry against the next start.
      gracefulShutdownTimeout: Duration.seconds(1)
    })
  })
)

export const serveHttp = <E, R>(routes: Layer.Layer<never, E, R>) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const listening = Layer.effectDiscard(
        Effect.gen(function*() {
          const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
          // The one line a newcomer needs: where the API is, where to look, what to type next.
          yield* Effect.logInfo(`switchboard listening on ${url} — dashboard at ${url}/, try: npx switchboard chat`).pipe(
            Effect.annotateLogs({ url })
          )
          // Tools (and port-0 users) find the daemon here, whatever the log level.
          const failed = yield* writeFileAtomic(join(config.stateDir, "daemon.json"), JSON.stringify({ pid: process.pid, url }) + "\n")
          const persistence = yield* Persistence
          yield* failed === undefined ? persistence.succeeded("daemon.json") : persistence.failed("daemon.json", failed)
        })
      )
      return Layer.mergeAll(HttpRouter.serve(Layer.mergeAll(routes, UnmatchedAsJson), { disableLogger: true, disableListenLog: true }), listening).pipe(
        // No server span per request: the routes continue a client's traceparent themselves (api.ts).
        Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen)(() => true)),
        Layer.provideMerge(server),
        Layer.provideMerge(Layer.mergeAll(HttpLimits.layer, ApiTokens.layer))
      )
    })
  )
