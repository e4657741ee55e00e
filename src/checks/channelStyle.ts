// How a chat shows a digest or an alert: Markdown or plain text, and its length limit. The one
// place this is decided, from the channel traits the agent's prompt header uses (until channels
// declare their traits in the Channel contract). Pure.
import { CHANNEL_TRAITS } from "../agent/prompt.ts"
import { channelOf } from "../domain/source.ts"
import type { DigestStyle } from "./digestRender.ts"

export const styleFor = (target: string): DigestStyle => {
  const traits = CHANNEL_TRAITS[channelOf(target) ?? ""]
  return { markdown: traits?.renders.startsWith("Markdown") ?? false, maxChars: traits?.limit }
}
