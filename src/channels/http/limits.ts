// How many connections and long-polls the HTTP API can afford. Every connection is a file
// descriptor; so are the tripwire's writes, the conversation files, the model's and Telegram's
// connections and each job's pipes. The cap on connections stays below the process's descriptor
// limit with room for those, so no client can make the daemon's own work fail with EMFILE.
import { readFileSync } from "node:fs"

/** Descriptors kept for the daemon's own files, outgoing connections and job pipes. */
export const FD_RESERVE = 64

export interface HttpBudget {
  readonly maxConnections: number
  readonly maxWaiters: number
  /** Why a configured cap was lowered, for the start-up log. */
  readonly lowered?: string | undefined
}

/** The soft limit on open files from /proc/self/limits; undefined where that cannot be read. */
export const readFdLimit = (read: () => string = () => readFileSync("/proc/self/limits", "utf8")): number | undefined => {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(read())
    if (m === null || m[1] === "unlimited") return undefined
    return Number(m[1])
  } catch {
    return undefined
  }
}

/**
 * Connections at most the configured cap and the descriptor limit less the reserve (at least 16);
 * long-polls at most half of the connections, so plain requests (/health, POST) always find room.
 */
export const httpBudget = (fdLimit: number | undefined, maxConnections: number, maxWaiters: number): HttpBudget => {
  const byFds = fdLimit === undefined ? Infinity : Math.max(16, fdLimit - FD_RESERVE)
  const connections = Math.min(maxConnections, byFds)
  const waiters = Math.max(1, Math.min(maxWaiters, Math.floor(connections / 2)))
  const notes: Array<string> = []
  if (connections < maxConnections) notes.push(`connections ${maxConnections} → ${connections} (file descriptor limit ${fdLimit})`)
  if (waiters < maxWaiters) notes.push(`long-polls ${maxWaiters} → ${waiters} (half the connections)`)
  return { maxConnections: connections, maxWaiters: waiters, lowered: notes.length > 0 ? notes.join(", ") : undefined }
}
