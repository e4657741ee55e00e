// In a cluster, an accepted request is handed to the daemon that owns its session instead of the
// local queue. The cluster layer provides this; without it (one daemon) Intake queues locally.
import { Context, type Effect } from "effect"
import type { Inbound } from "../domain/model.ts"
import type { HandoffFailed } from "../domain/errors.ts"
import type { TurnOutcome } from "./turnOutcome.ts"

export class TurnHandoff extends Context.Service<TurnHandoff, {
  /**
   * Stored durably for the session `sessionKey` before it returns (acknowledged); its turn runs on
   * whichever daemon owns that session. A request id seen before is not run again.
   */
  readonly send: (request: Inbound, sessionKey: string) => Effect.Effect<void, HandoffFailed>
  /** Interrupt the running turn for `source` in its session, on whichever daemon runs it. True if one was stopped. */
  readonly stop: (source: string, sessionKey: string) => Effect.Effect<boolean, HandoffFailed>
  /** The outcome of a request sent before, once its turn finished (on whichever daemon ran it). */
  readonly outcome: (request: Inbound, sessionKey: string) => Effect.Effect<TurnOutcome, HandoffFailed>
}>()("switchboard/TurnHandoff") {}
