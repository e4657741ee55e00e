// How a session (agent + conversation) comes to be: the daemon's agent provides a maker that opens
// each session with its agent's model and its own memory. Without one (the echo daemon, tests with
// a scripted Session) every session runs on the one Session in the graph.
import { Context, type Effect, type Scope } from "effect"
import type { SessionRef } from "../domain/agents.ts"
import type { Session } from "./Session.ts"

export class SessionMaker extends Context.Service<SessionMaker, {
  /** Open the session; it lives (memory loaded, files open) until the scope closes. */
  readonly make: (ref: SessionRef) => Effect.Effect<Session["Service"], { readonly message: string }, Scope.Scope>
}>()("switchboard/SessionMaker") {}
