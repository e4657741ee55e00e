// The bus's state and counters, for /status and /health. One mutable record per bus instance,
// created inside its Layer.
import type { EntryType } from "./entries.ts"

export type BusState = "connecting" | "up" | "down" | "stopped"

export interface BusStats {
  state: BusState
  /** When the state last changed (ISO). */
  since: string
  consumer: string
  /** host:port/db, never the password. */
  server: string
  lastError: string | null
  lastErrorAt: string | null
  /** Entries not yet read by the group; entries read but not acknowledged (refreshed about every second). */
  lag: number | null
  pending: number | null
  /** Length of switchboard:dead. */
  deadStream: number | null
  received: Record<EntryType, number>
  duplicates: number
  deadLettered: number
  heartbeatsDropped: number
  claimed: number
  /** Read sessions that ended with an error (each retry of an outage counts). */
  failures: number
  reconnects: number
  /** Set while entries wait because the gateway cannot take them (the queue is full). */
  paused: string | null
  outbound: { added: number; duplicates: number; failed: number }
}

export const emptyStats = (consumer: string, server: string, now: string): BusStats => ({
  state: "connecting",
  since: now,
  consumer,
  server,
  lastError: null,
  lastErrorAt: null,
  lag: null,
  pending: null,
  deadStream: null,
  received: { message: 0, "system-event": 0, notify: 0, "check-result": 0, "cron.heartbeat": 0 },
  duplicates: 0,
  deadLettered: 0,
  heartbeatsDropped: 0,
  claimed: 0,
  failures: 0,
  reconnects: 0,
  paused: null,
  outbound: { added: 0, duplicates: 0, failed: 0 }
})
