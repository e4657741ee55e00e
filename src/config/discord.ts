// The Discord channel's settings (section `discord` of GatewaySettings). The channel is on when
// DISCORD_BOT_TOKEN is set; both allowlists are empty by default, which denies everyone.
import { Config } from "effect"
import { commaList, duration, httpUrl, optionalSecret } from "./values.ts"

export const DiscordConfig = Config.all({
  botToken: optionalSecret("DISCORD_BOT_TOKEN"),
  /** REST root; the gateway URL comes from its /gateway/bot (tests point both at a fake). */
  apiRoot: httpUrl("DISCORD_API_ROOT", "https://discord.com/api"),
  allowedChannelIds: commaList("DISCORD_ALLOWED_CHANNEL_IDS"),
  allowedUserIds: commaList("DISCORD_ALLOWED_USER_IDS"),
  /** In allowed channels, answer only messages that mention the bot. */
  requireMention: Config.Boolean("DISCORD_REQUIRE_MENTION").pipe(Config.withDefault(false)),
  /** Typing indicator renewal while a channel's turn runs (Discord shows one for about 10 s). */
  typingEvery: duration("DISCORD_TYPING_EVERY", "8 seconds")
})
