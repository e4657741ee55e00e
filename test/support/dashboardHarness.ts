// The core graph with the dashboard's services (Events, DashboardSessions) and routes, over HTTP
// on a random port, for `it.live` tests.
import { Layer } from "effect"
import { CoreRoutes } from "../../src/channels/http/coreRoutes.ts"
import { DashboardRoutes } from "../../src/channels/http/dashboardRoutes.ts"
import { DashboardSessions } from "../../src/channels/http/DashboardSessions.ts"
import { Events } from "../../src/channels/http/Events.ts"
import { EventsRoutes } from "../../src/channels/http/eventsRoutes.ts"
import type { GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { Dispatcher } from "../../src/core/Dispatcher.ts"
import { Questions } from "../../src/core/Questions.ts"
import type { Session } from "../../src/core/Session.ts"
import { core } from "../../src/layers/Core.ts"
import { serveHttp } from "../../src/layers/HttpServer.ts"
import { testConfig } from "./harness.ts"
import { Store } from "../../src/store/Store.ts"

export const dashboardGateway = <E, R>(session: Layer.Layer<Session, E, R>, patch?: (s: GatewaySettings) => GatewaySettings) =>
  Dispatcher.drainOnStop.pipe(
    Layer.provideMerge(serveHttp(Layer.mergeAll(CoreRoutes, EventsRoutes, DashboardRoutes))),
    Layer.provideMerge(Layer.mergeAll(Events.layer, DashboardSessions.layer)),
    Layer.provideMerge(Questions.layer),
    Layer.provideMerge(core(session)),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(testConfig(patch))
  )
