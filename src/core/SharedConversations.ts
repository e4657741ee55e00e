// In a cluster a session moves between daemons (a rebalance, a failover), so its conversation is
// kept where every daemon reads it (src/cluster/PgConversations.ts), as the same lines a
// conversation file holds. One conversation is current per session; `/new` starts another.
import { Context, type Effect } from "effect"

export interface ConversationHead {
  readonly conversation: string
  /** The seq of its last line (0: none yet). */
  readonly seq: number
}

export class SharedConversations extends Context.Service<SharedConversations, {
  /** The session's current conversation and how far it goes; undefined before its first. */
  readonly head: (session: string) => Effect.Effect<ConversationHead | undefined>
  /** Its lines, oldest first, and the seq of the last. */
  readonly lines: (session: string, conversation: string) => Effect.Effect<{ readonly lines: ReadonlyArray<string>; readonly seq: number }>
  /** Append lines (JSON, one record each) to the conversation; the seq of the last. */
  readonly append: (session: string, conversation: string, lines: ReadonlyArray<string>) => Effect.Effect<number>
  /** Make `conversation` the session's current one. */
  readonly start: (session: string, conversation: string) => Effect.Effect<void>
}>()("switchboard/SharedConversations") {}
