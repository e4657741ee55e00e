// The Discord channel as the gateway lists it: on when DISCORD_BOT_TOKEN is set.
import { Option } from "effect"
import type { ChannelDefinition } from "../Channel.ts"
import { DISCORD_LIMIT } from "./chunk.ts"
import { DiscordChannel } from "./DiscordChannel.ts"

export const discord: ChannelDefinition = {
  name: "discord",
  traits: { renders: "Discord Markdown", maxChars: DISCORD_LIMIT, buttons: true },
  enabled: (settings) => Option.isSome(settings.discord.botToken),
  layer: DiscordChannel.layer
}
