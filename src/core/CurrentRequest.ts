// The request a turn is serving, carried fiber-locally. The Dispatcher provides it around the
// turn; tool handlers read it. Nothing else in the process knows "the current source".
import { Context, Effect } from "effect"
import type { SessionRef } from "../domain/agents.ts"
import type { Inbound } from "../domain/model.ts"

export const CurrentRequest = Context.Reference<Inbound | undefined>("switchboard/CurrentRequest", {
  defaultValue: () => undefined
})

export const withCurrentRequest = (request: Inbound) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, CurrentRequest, request)

/** The session (agent + conversation) a turn runs in; provided by the Dispatcher next to CurrentRequest. */
export const CurrentSession = Context.Reference<SessionRef | undefined>("switchboard/CurrentSession", {
  defaultValue: () => undefined
})
