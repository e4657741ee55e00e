// The Slack channel's counters and state, for /status and /health. One mutable record per channel
// instance, created inside its Layer.

export type SlackState = "starting" | "connected" | "reconnecting" | "failing" | "http" | "stopped"

export interface SlackStats {
  state: SlackState
  mode: "socket" | "http"
  bot: string | null
  connectedAt: string | null
  connections: number
  consecutiveFailures: number
  lastError: string | null
  received: number
  denied: number
  ignored: number
  unsupported: number
  duplicates: number
  invalid: number
  presses: number
  sent: number
  rateLimited: number
  permanentFailures: number
  lastPermanentFailure: { target: string; reason: string; at: string } | null
}

export const emptyStats = (mode: SlackStats["mode"]): SlackStats => ({
  state: "starting",
  mode,
  bot: null,
  connectedAt: null,
  connections: 0,
  consecutiveFailures: 0,
  lastError: null,
  received: 0,
  denied: 0,
  ignored: 0,
  unsupported: 0,
  duplicates: 0,
  invalid: 0,
  presses: 0,
  sent: 0,
  rateLimited: 0,
  permanentFailures: 0,
  lastPermanentFailure: null
})
