// In a cluster the turn that answers an `http:*` or `cli:*` source may run on another daemon than
// the one its client long-polls (GET /v1/inbox/:source): the inbox is then kept where every daemon
// reads it (src/cluster/PgInbox.ts). Seqs are the shared store's own, one series per cluster.
import { Context, type Effect } from "effect"
import type { OutboundKind } from "../domain/model.ts"

export interface SharedInboxMessage {
  readonly seq: number
  readonly kind: OutboundKind
  readonly requestId?: string | undefined
  readonly text: string
  readonly at: string
  readonly question?: { readonly id: string; readonly options: ReadonlyArray<string> } | undefined
}

export class SharedInbox extends Context.Service<SharedInbox, {
  /** Which store the seqs belong to (the inbox page's `epoch`). */
  readonly epoch: string
  /** `deliveryKey` (cluster mode's `<request id>/<step>`): a second append with it adds nothing. */
  readonly append: (
    source: string,
    message: Omit<SharedInboxMessage, "seq">,
    deliveryKey?: string | undefined
  ) => Effect.Effect<SharedInboxMessage>
  /** Messages with seq > after, oldest first, at most `limit`. */
  readonly after: (source: string, after: number, limit: number) => Effect.Effect<ReadonlyArray<SharedInboxMessage>>
}>()("switchboard/SharedInbox") {}
