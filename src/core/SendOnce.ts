// Idempotency keys for outbound sends, shared by every daemon of a cluster: a turn cut off by a
// crash runs again on another daemon, and what the first run already sent is not sent twice.
// Without it (one daemon) the outbox alone decides. The key is `<request id>/<step>`.
import { Context, type Effect } from "effect"

export class SendOnce extends Context.Service<SendOnce, {
  /** True when a message with this key was sent already (by any daemon). */
  readonly sent: (key: string) => Effect.Effect<boolean>
  /** After the channel confirmed the send. */
  readonly record: (key: string) => Effect.Effect<void>
}>()("switchboard/SendOnce") {}
