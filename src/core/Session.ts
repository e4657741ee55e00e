// The agent session: one conversation, one turn at a time (the Dispatcher guarantees that).
// A turn runs in the Dispatcher's fiber with CurrentRequest provided, so the tools it calls
// (AgentTools) know which request they serve. Providers implement this interface.
import { Context, Effect, Layer } from "effect"
import type { TurnFailed } from "../domain/errors.ts"
import type { Inbound } from "../domain/model.ts"

export interface TurnResult {
  /** The reply for the request's source; the silent token means nothing is sent. */
  readonly text: string
}

export interface SessionInfo {
  readonly provider: string
  readonly model: string
  readonly [key: string]: unknown
}

/** Stateless: one serves any number of sessions. */
export const echoSession = {
  prompt: (request: Inbound) => Effect.succeed({ text: `echo: ${request.text}` }),
  reset: Effect.void,
  info: Effect.succeed<SessionInfo>({ provider: "echo", model: "echo" })
}

export class Session extends Context.Service<Session, {
  readonly prompt: (request: Inbound) => Effect.Effect<TurnResult, TurnFailed>
  /** Start a fresh conversation (`/new`). */
  readonly reset: Effect.Effect<void>
  readonly info: Effect.Effect<SessionInfo>
}>()("switchboard/Session") {
  /** The offline default: deterministic, no network, replies `echo: <text>`. */
  static readonly echo = Layer.succeed(Session, echoSession)
}
