// Discord channel metrics (descriptors only; values live in the runtime's registry).
import { Metric } from "effect"

export const discordEvents = Metric.counter("switchboard_discord_events_total", {
  description: "Discord messages and interactions received, by kind (text, command, button, duplicate, ignored, invalid, …)",
  incremental: true
})
export const discordDenied = Metric.counter("switchboard_discord_denied_total", {
  description: "Discord messages and interactions refused by DISCORD_ALLOWED_CHANNEL_IDS / DISCORD_ALLOWED_USER_IDS",
  incremental: true
})
export const discordSends = Metric.counter("switchboard_discord_sends_total", {
  description: "Discord messages sent, by outcome (sent, rate_limited, permanent, failed, refused_not_allowed)",
  incremental: true
})
export const discordGatewayUp = Metric.gauge("switchboard_discord_gateway_up", {
  description: "1 while the Discord gateway session is up, 0 while it is disconnected"
})
export const discordDisconnects = Metric.counter("switchboard_discord_gateway_disconnects_total", {
  description: "Discord gateway connections that closed (each followed by a resume or a new session)",
  incremental: true
})
