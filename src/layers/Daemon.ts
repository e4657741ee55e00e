// The whole daemon: configuration → observability → the service graph → the HTTP API and the
// channels. Which model provider runs is decided from GatewayConfig here; which channels run,
// by each channel's own definition (layers/channels.ts).
import { Effect, Layer, Option } from "effect"
import { agentServices, openAiSession } from "../agent/composition.ts"
import { agentSessionMaker } from "../agent/sessionMaker.ts"
import type { SessionMaker } from "../core/SessionMaker.ts"
import { ApiTokens } from "../channels/http/ApiTokens.ts"
import { AgentRoutes } from "../channels/http/agentRoutes.ts"
import { CoreRoutes } from "../channels/http/coreRoutes.ts"
import { HeartbeatRoutes } from "../channels/http/heartbeatRoutes.ts"
import { ExecJobs } from "../agent/exec/ExecJobs.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { HeartbeatRunner } from "../heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../heartbeat/HeartbeatWake.ts"
import { Session } from "../core/Session.ts"
import { Store, type StoreUnavailable } from "../store/Store.ts"
import type { Persistence } from "../store/Persistence.ts"
import { SystemEvents } from "../heartbeat/SystemEvents.ts"
import { reloadHeartbeatSettings } from "../heartbeat/loadSettings.ts"
import { ChecksRoutes } from "../channels/http/checksRoutes.ts"
import { DashboardSessions } from "../channels/http/DashboardSessions.ts"
import { DashboardRoutes } from "../channels/http/dashboardRoutes.ts"
import { Events } from "../channels/http/Events.ts"
import { EventsRoutes } from "../channels/http/eventsRoutes.ts"
import { Checks } from "../checks/Checks.ts"
import { checksLayer } from "./Checks.ts"
import { clusterBase, clusterTop } from "./Cluster.ts"
import { core, Foundation } from "./Core.ts"
import { serveHttp } from "./HttpServer.ts"
import { optionalChannels, startChannelsAfter } from "./channels.ts"
import { VERSION } from "../domain/version.ts"
import { Observability } from "./Observability.ts"
import { StateDir } from "../store/StateDir.ts"
import { lifecycle } from "./lifecycle.ts"

/**
 * The service graph for a session layer. SystemEvents and HeartbeatWake sit below the Session
 * (exec completions use them); Questions and ExecJobs share the core's Router (layers memoize,
 * so `Foundation` is built once); the heartbeat runner sits on top of the core.
 */
export const graph = <S extends Session | SessionMaker, E, R>(
  session: Layer.Layer<S, E, R>,
  runner: typeof HeartbeatRunner.layer = HeartbeatRunner.layer
) =>
  Layer.mergeAll(runner, ExecJobs.status, Events.layer, DashboardSessions.layer, SystemEvents.relayKept).pipe(
    Layer.provideMerge(checksLayer()),
    Layer.provideMerge(core(session)),
    Layer.provideMerge(agentServices.pipe(Layer.provide(Foundation))),
    Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer))
  )

/** `env` is re-read on reload (SIGHUP, POST /v1/admin/reload), config file included. */
const app = (env: NodeJS.ProcessEnv, store: StoreLayer) => Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    yield* Effect.logInfo("starting switchboard").pipe(
      Effect.annotateLogs({
        version: VERSION,
        node: process.version,
        pid: process.pid,
        provider: config.model.provider,
        model: config.model.provider === "echo" ? "echo" : config.model.name,
        stateDir: config.stateDir,
        channels: optionalChannels.filter((c) => c.enabled(config)).map((c) => c.name).join(",")
      })
    )
    // Without an agents file: the one session, as always. With one: each session opened by its agent
    // (the core finds a Session or a SessionMaker; the type only says which services it needs).
    const session: Layer.Layer<never, unknown, Layer.Services<typeof agentSessionMaker> | Layer.Services<typeof openAiSession>> =
      Option.isSome(config.agents.file)
        ? agentSessionMaker
        : config.model.provider === "openai"
        ? openAiSession
        : Session.echo
    const routes = Layer.mergeAll(CoreRoutes, HeartbeatRoutes, AgentRoutes, ChecksRoutes, EventsRoutes, DashboardRoutes)
    const http = ApiTokens.sighup.pipe(Layer.provideMerge(serveHttp(routes)))
    // The enabled channels are listed, then the server listens, then the channels are built: the API
    // and /health answer at once, a channel's library (grammY, discord.js, Slack's, ioredis) is
    // imported inside its own layer, and /health says `warn` until every enabled channel is up.
    const channels = startChannelsAfter(optionalChannels, http)
    // Cluster mode: this daemon also hosts the sessions whose shards it owns.
    const edges = Layer.mergeAll(channels, HeartbeatRunner.sighup, Checks.sighup, clusterTop(config.cluster))
    // The lifecycle is outermost: on SIGTERM it drains the Dispatcher (the running turn finishes while
    // channels can still deliver) and stops the outbox; what is left is in the Store already.
    const runner = HeartbeatRunner.layerWith({ loadSettings: reloadHeartbeatSettings(env) })
    // The Store is built first and closed last: everything above it may write until it stops.
    return lifecycle.pipe(
      Layer.provideMerge(edges),
      Layer.provideMerge(graph(session, runner)),
      Layer.provideMerge(clusterBase(config.cluster)),
      Layer.provideMerge(store)
    )
  })
)

/** Built first, finalized last: the final log line, once everything else has stopped. */
const stoppedLog = Layer.effectDiscard(Effect.addFinalizer(() => Effect.logInfo("switchboard stopped")))

type StoreLayer = Layer.Layer<Store | Persistence, StoreUnavailable, GatewayConfig>

/**
 * The state dir (probe, lock) is ready before anything in the graph writes to it. `store` is the
 * file on disk; `npm run bench -- durable` passes `Store.memory` to measure what the disk costs.
 */
export const daemon = (env: NodeJS.ProcessEnv, store: StoreLayer = Store.layer) =>
  app(env, store).pipe(
    Layer.provide(stoppedLog),
    Layer.provide(StateDir.layer),
    Layer.provide(Observability),
    Layer.provideMerge(GatewayConfig.layer)
  )
