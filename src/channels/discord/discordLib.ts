// The discord.js packages the channel uses, in one module: DiscordApi imports it on first use, and
// the bundle initialises these modules only then, so a daemon without Discord never runs them.
export { Client, GatewayDispatchEvents } from "@discordjs/core"
export { DiscordAPIError, HTTPError, RateLimitError, REST } from "@discordjs/rest"
export { type SessionInfo, WebSocketManager, WebSocketShardEvents } from "@discordjs/ws"
