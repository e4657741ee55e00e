// Gateway decisions that need no socket: how long to wait before the next reconnect attempt, and
// which close codes mean "reconnecting cannot help" (a wrong token, intents the bot may not use).
// Pure.

/** Backoff before reconnect attempt `failures` (1, 2, …): 1 s doubling to 60 s, times 0.5–1 (jitter in [0, 1)). */
export const reconnectDelayMs = (failures: number, jitter: number, baseMs = 1000, maxMs = 60_000): number =>
  failures <= 0 ? 0 : Math.round(Math.min(maxMs, baseMs * 2 ** (failures - 1)) * (0.5 + jitter / 2))

/** Close codes after which the library stops reconnecting, and what the owner must do. */
export const FATAL_CLOSE_CODES: Readonly<Record<number, string>> = {
  4004: "Discord refused the bot token: check DISCORD_BOT_TOKEN (it may have been reset in the Developer Portal)",
  4010: "Discord refused the shard settings",
  4011: "Discord requires sharding for this bot (in more than 2,500 servers): not supported",
  4012: "Discord refused the gateway API version",
  4013: "Discord refused the gateway intents",
  4014: "Discord refused the Message Content intent: enable it for the bot in the Developer Portal (Bot → Privileged Gateway Intents → Message Content Intent)"
}

/**
 * Gateway intents (Discord's bit numbers): GUILD_MESSAGES (1 << 9), DIRECT_MESSAGES (1 << 12) and
 * the privileged MESSAGE_CONTENT (1 << 15), without which messages arrive with empty text.
 */
export const INTENTS = (1 << 9) | (1 << 12) | (1 << 15)
