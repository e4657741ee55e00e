// How a chat shows a digest or an alert: Markdown or plain text, and its length limit. The one
// place this is decided, from the traits the target's channel declares (src/channels/Channel.ts),
// which the agent's prompt header uses too. Pure.
import type { ChannelTraits } from "../core/Channels.ts"
import type { DigestStyle } from "./digestRender.ts"

export const styleFor = (traits: ChannelTraits | undefined): DigestStyle => ({
  markdown: traits?.renders.startsWith("Markdown") ?? false,
  maxChars: traits !== undefined && Number.isFinite(traits.maxChars) ? traits.maxChars : undefined
})
