// The channel's counters and gateway state, for /status and /health. One mutable record per
// channel instance, created inside its Layer.

export type GatewayState = "starting" | "connecting" | "ready" | "disconnected" | "failed" | "stopped"

export interface DiscordStats {
  state: GatewayState
  bot: string | null
  applicationId: string | null
  connectedAt: string | null
  disconnectedSince: string | null
  /** Sessions opened with an identify (READY); the first one is the start. */
  sessions: number
  resumes: number
  disconnects: number
  lastCloseCode: number | null
  /** Why the gateway gave up for good (wrong token, Message Content intent not enabled). */
  fatal: string | null
  commands: "registered" | "failed" | null
  received: number
  denied: number
  ignored: number
  duplicates: number
  invalid: number
  unsupported: number
  /** Messages fetched over REST after a session was lost (the gateway does not replay those). */
  caughtUp: number
  /** Gateway events dropped because the channel could not keep up. */
  dropped: number
  sent: number
  rateLimited: number
  permanentFailures: number
  lastPermanentFailure: { target: string; reason: string; at: string } | null
}

export const emptyStats = (): DiscordStats => ({
  state: "starting",
  bot: null,
  applicationId: null,
  connectedAt: null,
  disconnectedSince: null,
  sessions: 0,
  resumes: 0,
  disconnects: 0,
  lastCloseCode: null,
  fatal: null,
  commands: null,
  received: 0,
  denied: 0,
  ignored: 0,
  duplicates: 0,
  invalid: 0,
  unsupported: 0,
  caughtUp: 0,
  dropped: 0,
  sent: 0,
  rateLimited: 0,
  permanentFailures: 0,
  lastPermanentFailure: null
})
