// The daemon's own services, in process, with the Session (and settings) swapped for tests.
// HTTP listens on a random port; `baseUrl` gives the address.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Ref, References, Scope } from "effect"
import { HttpServer } from "effect/http"
import { TurnFailed } from "../../src/domain/errors.ts"
import type { Inbound } from "../../src/domain/model.ts"
import { CoreRoutes } from "../../src/channels/http/coreRoutes.ts"
import { HeartbeatRoutes } from "../../src/channels/http/heartbeatRoutes.ts"
import { HeartbeatRunner } from "../../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../src/heartbeat/HeartbeatWake.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { core } from "../../src/layers/Core.ts"
import { serveHttp } from "../../src/layers/HttpServer.ts"
import { AgentTools } from "../../src/agent/AgentTools.ts"
import { Dispatcher } from "../../src/core/Dispatcher.ts"
import { GatewayConfig, type GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
import { lifecycle } from "../../src/layers/lifecycle.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Router } from "../../src/core/Router.ts"
import { Session } from "../../src/core/Session.ts"
import { Store, type StoreUnavailable } from "../../src/store/Store.ts"

/** Tests keep the log quiet unless something goes wrong. */
export const quietLogs = Layer.succeed(References.MinimumLogLevel, "Warn")

export const testConfig = (patch: (s: GatewaySettings) => GatewaySettings = (s) => s) =>
  GatewayConfig.test((s) => patch({ ...s, http: { ...s.http, port: 0 } })).pipe(Layer.provideMerge(quietLogs))

/** Core graph + HTTP API on a random port, for `it.live` tests. */
export const gatewayWithHttp = <E, R>(
  session: Layer.Layer<Session, E, R>,
  patch?: (s: GatewaySettings) => GatewaySettings,
  routes: Layer.Layer<never, never, any> = CoreRoutes
) =>
  Dispatcher.drainOnStop.pipe(
    Layer.provideMerge(serveHttp(routes)),
    Layer.provideMerge(core(session)),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(testConfig(patch))
  )

/** The echo gateway with the heartbeat (runner, wake, system events) and the core and heartbeat routes. */
export const gatewayWithHeartbeatHttp = () =>
  serveHttp(Layer.mergeAll(CoreRoutes, HeartbeatRoutes)).pipe(
    Layer.provideMerge(
      HeartbeatRunner.layer.pipe(
        Layer.provideMerge(core(Session.echo)),
        Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
        Layer.provideMerge(Store.memory),
        Layer.provideMerge(testConfig())
      )
    )
  )

/**
 * Core graph only (no sockets), for `it.effect` tests on the TestClock. The store is in memory
 * unless the test passes `Store.layer` (the file in the state dir: what a restart finds again).
 */
export const gateway = <E, R>(
  session: Layer.Layer<Session, E, R>,
  patch?: (s: GatewaySettings) => GatewaySettings,
  store: Layer.Layer<Store, StoreUnavailable, GatewayConfig> = Store.memory
) =>
  Dispatcher.drainOnStop.pipe(
    Layer.provideMerge(core(session)),
    Layer.provideMerge(store),
    Layer.provideMerge(testConfig(patch))
  )

export const baseUrl = HttpServer.addressFormattedWith((address) => Effect.succeed(address))

/** What a scripted test Session observed. */
export interface SessionProbe {
  readonly prompts: Ref.Ref<ReadonlyArray<Inbound>>
  readonly inFlight: Ref.Ref<number>
  readonly maxInFlight: Ref.Ref<number>
}

/**
 * A Session whose turns run `behaviour(request, tools, router)` and reply with its result; records every
 * prompt and the highest number of turns seen running at once.
 */
export const scriptedSession = (
  behaviour: (request: Inbound, tools: AgentTools["Service"], router: Router["Service"]) => Effect.Effect<string, TurnFailed>
) =>
  Effect.gen(function*() {
    const probe: SessionProbe = {
      prompts: yield* Ref.make<ReadonlyArray<Inbound>>([]),
      inFlight: yield* Ref.make(0),
      maxInFlight: yield* Ref.make(0)
    }
    const layer = Layer.effect(
      Session,
      Effect.gen(function*() {
        const tools = yield* AgentTools
        const router = yield* Router
        return Session.of({
          prompt: (request) =>
            Effect.gen(function*() {
              yield* Ref.update(probe.prompts, (ps) => [...ps, request])
              const now = yield* Ref.updateAndGet(probe.inFlight, (n) => n + 1)
              yield* Ref.update(probe.maxInFlight, (m) => Math.max(m, now))
              return { text: yield* behaviour(request, tools, router) }
            }).pipe(Effect.ensuring(Ref.update(probe.inFlight, (n) => n - 1))),
          reset: Effect.void,
          info: Effect.succeed({ provider: "test", model: "scripted" })
        })
      })
    )
    return { layer, probe }
  })

export { TurnFailed }

/** Let forked fibers (dispatcher, wake loop) catch up, bounded; no time passes. */
export const until = <R>(cond: Effect.Effect<boolean, never, R>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 10_000; i++) {
      if (yield* cond) return
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`never happened: ${what}`))
  })

/** A temporary state dir for the test's scope. */
export const tempStateDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "switchboard-life-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/**
 * One daemon life in process: the core graph with its store file on `stateDir` (and the daemon's lifecycle),
 * in its own scope, so a test can stop it (close the scope) and start the next life on the same
 * state dir. A crash is a second life started while the first one never stopped.
 */
export const daemonLife = <E, R>(session: Layer.Layer<Session, E, R>, stateDir: string) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = lifecycle.pipe(Layer.provideMerge(gateway(session, (s) => ({ ...s, stateDir }), Store.layer)))
    const context = yield* Layer.buildWithScope(layer, scope)
    return {
      scope,
      router: Context.get(context, Router),
      intake: Context.get(context, Intake),
      inbox: Context.get(context, Inbox),
      requests: Context.get(context, RequestLog)
    }
  })
