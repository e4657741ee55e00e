// The core service graph, with the Session (and queue) swappable: the daemon passes the live
// ones, tests pass their own. Requires GatewayConfig.
import { Layer } from "effect"
import { AgentTools } from "../agent/AgentTools.ts"
import { CommandQueue } from "../core/CommandQueue.ts"
import { Dispatcher } from "../core/Dispatcher.ts"
import { Inbox } from "../channels/http/Inbox.ts"
import { Intake } from "../core/Intake.ts"
import { RequestLog } from "../core/RequestLog.ts"
import { Router } from "../core/Router.ts"
import type { Session } from "../core/Session.ts"
import { Status } from "../core/Status.ts"

/** Services with no dependencies on the session. */
export const Foundation = Layer.mergeAll(Router.layer, RequestLog.layer).pipe(
  Layer.provideMerge(CommandQueue.memory)
)

export const core = <E, R>(session: Layer.Layer<Session, E, R>) => {
  const tools = AgentTools.layer.pipe(Layer.provideMerge(Foundation))
  const withSession = session.pipe(Layer.provideMerge(tools))
  const withDispatcher = Dispatcher.layer.pipe(Layer.provideMerge(withSession))
  const withStatus = Status.layer.pipe(Layer.provideMerge(withDispatcher))
  return Layer.mergeAll(Intake.layer, Inbox.layer).pipe(Layer.provideMerge(withStatus))
}
