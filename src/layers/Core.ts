// The core service graph, with the Session (and queue) swappable: the daemon passes the live
// ones, tests pass their own. Requires GatewayConfig.
import { Layer } from "effect"
import { AgentTools } from "../agent/AgentTools.ts"
import { Agents } from "../config/Agents.ts"
import { CommandQueue } from "../core/CommandQueue.ts"
import { Dispatcher } from "../core/Dispatcher.ts"
import { ChannelRoutes } from "../channels/http/ChannelRoutes.ts"
import { Inbox } from "../channels/http/Inbox.ts"
import { Channels } from "../core/Channels.ts"
import { DeliveryLog } from "../core/DeliveryLog.ts"
import { Intake } from "../core/Intake.ts"
import { RequestLog } from "../core/RequestLog.ts"
import { Router } from "../core/Router.ts"
import type { Session } from "../core/Session.ts"
import type { SessionMaker } from "../core/SessionMaker.ts"
import { Sessions } from "../core/Sessions.ts"
import { builtinChannels, startChannels } from "./channels.ts"
import { Status } from "../core/Status.ts"
import { TurnEvents } from "../core/TurnEvents.ts"
import { Persistence } from "../store/Persistence.ts"

/**
 * Services with no dependencies on the session. The Router records each delivery (DeliveryLog).
 * Requires GatewayConfig and the Store.
 */
export const Foundation = Layer.mergeAll(
  DeliveryLog.recording(Router.layer),
  Channels.layer,
  TurnEvents.layer,
  Persistence.layer,
  CommandQueue.layer,
  Agents.layer
).pipe(
  Layer.provideMerge(Layer.mergeAll(RequestLog.layer, DeliveryLog.layer))
)

/**
 * `session`: one Session that every conversation runs on (echo, tests), or a SessionMaker that opens
 * each session (agent + conversation) with its own memory and its agent's model (the daemon).
 */
export const core = <S extends Session | SessionMaker, E, R>(session: Layer.Layer<S, E, R>) => {
  const tools = AgentTools.layer.pipe(Layer.provideMerge(Foundation))
  const withSession = session.pipe(Layer.provideMerge(tools))
  const withSessions = Sessions.layer.pipe(Layer.provideMerge(withSession))
  const withDispatcher = Dispatcher.layer.pipe(Layer.provideMerge(withSessions))
  const withStatus = Status.layer.pipe(Layer.provideMerge(withDispatcher))
  const edges = Layer.mergeAll(Intake.layer, Inbox.layer, ChannelRoutes.layer).pipe(Layer.provideMerge(withStatus))
  // The always-on channels (HTTP, CLI) are part of the core graph; the others start in Daemon.ts.
  return startChannels(builtinChannels).pipe(Layer.provideMerge(edges))
}
