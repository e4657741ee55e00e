// The sender of the channels whose people read their messages from the Inbox (GET /v1/inbox):
// HTTP clients and `switchboard chat`. Delivering is appending, so the channel is up at once.
import { Effect, Layer } from "effect"
import { ChannelLife } from "../../core/Channels.ts"
import { Router } from "../../core/Router.ts"
import { Inbox } from "./Inbox.ts"

export type InboxChannelServices = Inbox | Router | ChannelLife

export const inboxChannelLayer = (name: string): Layer.Layer<never, never, InboxChannelServices> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const inbox = yield* Inbox
    const router = yield* Router
    // In a cluster the shared inbox writes each message with its delivery key, once (PgInbox).
    yield* router.register({ channel: name, send: (target, message) => Effect.asVoid(inbox.append(target, message)), dedupes: true })
    yield* (yield* ChannelLife).up
  }))
