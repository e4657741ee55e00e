// The HTTP channel: `http:<name>` sources post to POST /v1/messages and read replies, notifications
// and questions from GET /v1/inbox/http:<name>. Always on (the API server is the daemon's own).
import type { ChannelDefinition } from "../Channel.ts"
import { type InboxChannelServices, inboxChannelLayer } from "./inboxChannel.ts"

export const http: ChannelDefinition<InboxChannelServices> = {
  name: "http",
  traits: { renders: "plain text", maxChars: Number.POSITIVE_INFINITY, buttons: false },
  enabled: () => true,
  layer: inboxChannelLayer("http")
}
