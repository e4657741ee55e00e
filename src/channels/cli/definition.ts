// The CLI channel: `switchboard chat` and `switchboard send` speak as `cli:<name>` through the HTTP
// API (src/cli/ is the command itself) and read the `cli:<name>` inbox. Always on.
import type { ChannelDefinition } from "../Channel.ts"
import { type InboxChannelServices, inboxChannelLayer } from "../http/inboxChannel.ts"

export const cli: ChannelDefinition<InboxChannelServices> = {
  name: "cli",
  traits: { renders: "plain text in a terminal", maxChars: Number.POSITIVE_INFINITY, buttons: false },
  enabled: () => true,
  layer: inboxChannelLayer("cli")
}
