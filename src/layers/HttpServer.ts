// The HTTP API on NodeHttpServer at SWITCHBOARD_HTTP_HOST:PORT; logs the bound URL once listening.
import { createServer } from "node:http"
import { join } from "node:path"
import { writeFileAtomic } from "../domain/files.ts"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { GatewayConfig } from "../config/GatewayConfig.ts"

export const serveHttp = <E, R>(routes: Layer.Layer<never, E, R>) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const listening = Layer.effectDiscard(
        Effect.gen(function*() {
          const url = yield* HttpServer.addressFormattedWith((address) => Effect.succeed(address))
          yield* Effect.logInfo(`switchboard listening on ${url}`).pipe(Effect.annotateLogs({ url }))
          // Tools (and port-0 users) find the daemon here, whatever the log level.
          yield* writeFileAtomic(join(config.stateDir, "daemon.json"), JSON.stringify({ pid: process.pid, url }) + "\n")
        })
      )
      return Layer.mergeAll(HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }), listening).pipe(
        Layer.provideMerge(NodeHttpServer.layer(createServer, {
          port: config.http.port,
          host: config.http.host,
          // The server closes after the running turn has finished (or been stopped): what is still
          // open then is long-polls (`switchboard chat` always has one), which would otherwise hold
          // the stop for 20 s. They are cut after a second; clients retry against the next start.
          gracefulShutdownTimeout: Duration.seconds(1)
        }))
      )
    })
  )
