// How a turn ended, and what its sender is told. Pure.
import { Duration } from "effect"
import { type Inbound, isSilent, type OutboundKind } from "../domain/model.ts"

export type TurnOutcome =
  | { readonly _tag: "Replied"; readonly text: string }
  | { readonly _tag: "Failed"; readonly reason: string; readonly userMessage: string }
  | { readonly _tag: "Aborted" }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "ShutDown" }

/** What the sender is told after a turn, or nothing (a silent reply; a stop, which runs it again). */
export const replyFor = (
  request: Inbound,
  outcome: TurnOutcome,
  turnTimeout: Duration.Duration
): { kind: OutboundKind; text: string } | undefined => {
  switch (outcome._tag) {
    case "Replied":
      return isSilent(outcome.text)
        ? undefined
        : { kind: request.relay !== undefined ? "relay" : "reply", text: outcome.text }
    case "Failed":
      return { kind: "error", text: outcome.userMessage }
    case "Aborted":
      return { kind: "error", text: "Stopped." }
    case "TimedOut":
      return {
        kind: "error",
        text: `That took longer than ${Duration.format(turnTimeout)} and was stopped.`
      }
    case "ShutDown":
      return undefined // handled before: it runs again at the next start
  }
}
