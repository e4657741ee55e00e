// /health is the one route without the bearer token: it says whether the daemon is well, never who
// is talking to it.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { CoreRoutes } from "../../../src/channels/http/coreRoutes.ts"
import { HeartbeatRoutes } from "../../../src/channels/http/heartbeatRoutes.ts"
import { GatewayConfig } from "../../../src/config/GatewayConfig.ts"
import { HeartbeatRunner } from "../../../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../../src/heartbeat/HeartbeatWake.ts"
import { SystemEvents } from "../../../src/heartbeat/SystemEvents.ts"
import { core } from "../../../src/layers/Core.ts"
import { serveHttp } from "../../../src/layers/HttpServer.ts"
import { scriptedSession } from "../../support/harness.ts"
import { Store } from "../../../src/store/Store.ts"

const post = (base: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    }).then(async (r) => ({ status: r.status, body: await r.json() as any }))
  )

const getJson = (base: string, path: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(`${base}${path}`, { headers }).then(async (r) => ({ status: r.status, text: await r.text() }))
  ).pipe(Effect.map((r) => ({ status: r.status, text: r.text, body: JSON.parse(r.text) as any })))

describe("/health without a token", () => {
  // The "turn" check's detail once named the running request's id and source: on a host exposed with
  // SWITCHBOARD_API_TOKEN anyone could poll /health and learn which chat (telegram:<chat id>,
  // http:<client>) was talking to the agent, exactly what /status protects with the token.
  it.live("unauthenticated /health does not reveal who is talking to the agent", () =>
    Effect.gen(function*() {
      const stateDir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const { layer } = yield* scriptedSession(() =>
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)), Effect.as("done"))
      )
      const config = GatewayConfig.test((s) => ({
        ...s,
        stateDir,
        http: { ...s.http, port: 0, apiToken: Option.some(Redacted.make("tok")) },
        heartbeat: { ...s.heartbeat, every: Duration.hours(1) }
      }))
      const graph = HeartbeatRunner.layer.pipe(
        Layer.provideMerge(core(layer)),
        Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
        Layer.provideMerge(Store.memory),
        Layer.provideMerge(config)
      )
      const app = serveHttp(Layer.mergeAll(CoreRoutes, HeartbeatRoutes)).pipe(Layer.provideMerge(graph))
      yield* Effect.gen(function*() {
        const base = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a))
        yield* post(base, { id: "private-request-7", text: "my bank details", source: "http:alice" }, {
          authorization: "Bearer tok"
        })
        yield* Deferred.await(started)
        const health = yield* getJson(base, "/health")
        yield* Deferred.succeed(release, undefined)
        assert.strictEqual(health.status, 200)
        assert.notInclude(health.text, "http:alice")
        assert.notInclude(health.text, "private-request-7")
      }).pipe(Effect.provide(app), Effect.ensuring(Effect.sync(() => rmSync(stateDir, { recursive: true, force: true }))))
    }))
})
