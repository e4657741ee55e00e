// HTTP routes a channel serves on the daemon's own server while it runs (a webhook: Telegram's
// TELEGRAM_WEBHOOK_URL, Slack's Events API). Channels start after the server listens, so their
// routes cannot be part of the router built at start: they are added here for the lifetime of the
// channel's scope, and the API's catch-all route looks them up (exact method and path) before it
// answers 404.
import { Context, Effect, Layer, Scope } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { errorResponse, respond, type RouteHandler, type RouteOptions } from "./api.ts"
import type { GatewayConfig } from "../../config/GatewayConfig.ts"

export type ChannelRouteMethod = "GET" | "POST" | "PUT" | "DELETE"

/** What a channel's route may need: the request (and the settings, for the bearer token). */
export type ChannelRouteHandler = RouteHandler<unknown, HttpServerRequest.HttpServerRequest | GatewayConfig>

interface Entry {
  readonly handler: ChannelRouteHandler
  readonly options: RouteOptions
}

const keyOf = (method: string, path: string) => `${method.toUpperCase()} ${path}`

export class ChannelRoutes extends Context.Service<ChannelRoutes, {
  /** Serve `method path` (an exact path, no parameters) while the caller's scope lives. */
  readonly add: (
    method: ChannelRouteMethod,
    path: `/${string}`,
    handler: ChannelRouteHandler,
    options?: RouteOptions
  ) => Effect.Effect<void, never, Scope.Scope>
  readonly find: (method: string, path: string) => Effect.Effect<Entry | undefined>
}>()("switchboard/ChannelRoutes") {
  static readonly layer = Layer.effect(
    ChannelRoutes,
    Effect.sync(() => {
      const routes = new Map<string, Entry>()
      return ChannelRoutes.of({
        add: (method, path, handler, options = {}) => {
          const key = keyOf(method, path)
          const entry: Entry = { handler, options }
          return Effect.acquireRelease(
            Effect.sync(() => routes.set(key, entry)),
            // Only its own: a channel started again has already put its new entry in.
            () => Effect.sync(() => routes.get(key) === entry && routes.delete(key))
          ).pipe(Effect.asVoid)
        },
        find: (method, path) => Effect.sync(() => routes.get(keyOf(method, path)))
      })
    })
  )
}

/** The API's catch-all: a channel's route when one matches, else the contract's 404. */
export const ChannelRoutesFallback = HttpRouter.add(
  "*",
  "*",
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://localhost").pathname
    const entry = yield* (yield* ChannelRoutes).find(request.method, path)
    if (entry === undefined) return errorResponse(404, "not_found", "no such route")
    return yield* respond(entry.handler, entry.options)
  })
)
