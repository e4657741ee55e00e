// The channel's counters and state, for /status and /health. One mutable record per channel
// instance, created inside its Layer.

export type ChannelState = "starting" | "polling" | "webhook" | "failing" | "stopped"

export interface TelegramStats {
  state: ChannelState
  mode: "polling" | "webhook"
  bot: string | null
  lastPollAt: string | null
  consecutiveFailures: number
  lastError: string | null
  received: number
  denied: number
  unsupported: number
  duplicates: number
  invalid: number
  sent: number
  plainFallbacks: number
  rateLimited: number
  permanentFailures: number
  lastPermanentFailure: { target: string; reason: string; at: string } | null
}

export const emptyStats = (mode: TelegramStats["mode"]): TelegramStats => ({
  state: "starting",
  mode,
  bot: null,
  lastPollAt: null,
  consecutiveFailures: 0,
  lastError: null,
  received: 0,
  denied: 0,
  unsupported: 0,
  duplicates: 0,
  invalid: 0,
  sent: 0,
  plainFallbacks: 0,
  rateLimited: 0,
  permanentFailures: 0,
  lastPermanentFailure: null
})
