// How wake requests merge and when the wake timer fires. Pure functions; HeartbeatWake holds the state.
// Each rule here is a fix for a scheduler that lost or delayed wakes (ARCHITECTURE.md invariant 5).
import { Duration } from "effect"

/** Lowest to highest priority when requests merge: retry < interval < other < action. */
export type WakeReason = "retry" | "interval" | "exec-event" | "manual" | "hook" | (string & {})

/** Lowest to highest: retry < interval < other < action (exec-event, manual, hook). */
export const ACTION_REASONS: ReadonlyArray<string> = ["exec-event", "manual", "hook"]

export const reasonPriority = (reason: WakeReason): number =>
  reason === "retry" ? 0 : reason === "interval" ? 1 : ACTION_REASONS.includes(reason) ? 3 : 2

/** A wake waiting to run, one per target (session key, or none). */
export interface PendingWake {
  readonly reason: WakeReason
  readonly sessionKey: string | undefined
  /** When the first request for this target arrived (for latency figures). */
  readonly requestedAt: number
  /** Not before this time: a retry's floor, which later requests cannot lower. 0 when none. */
  readonly notBefore: number
}

/** The target a request merges under: its session key, or "" for none. */
export const targetOf = (sessionKey: string | undefined): string => sessionKey ?? ""

/**
 * Merge a request into what is pending for its target: the higher-priority reason wins (on a tie
 * the earlier one stays), the earliest request time and the latest floor are kept.
 */
export const mergeWake = (existing: PendingWake | undefined, incoming: PendingWake): PendingWake => {
  if (existing === undefined) return incoming
  const reason = reasonPriority(incoming.reason) > reasonPriority(existing.reason) ? incoming.reason : existing.reason
  return {
    reason,
    sessionKey: existing.sessionKey,
    requestedAt: Math.min(existing.requestedAt, incoming.requestedAt),
    notBefore: Math.max(existing.notBefore, incoming.notBefore)
  }
}

/**
 * The timer after asking for a run at `dueAt`: an earlier due time preempts a later pending timer,
 * a later one never delays an earlier one.
 */
export const armTimer = (current: number | undefined, dueAt: number): number =>
  current === undefined ? dueAt : Math.min(current, dueAt)

/** Split what is pending into what may run now and what must wait for its floor. */
export const eligibleAt = (pending: ReadonlyArray<PendingWake>, now: number) => ({
  ready: pending.filter((p) => p.notBefore <= now)
    .sort((a, b) => reasonPriority(b.reason) - reasonPriority(a.reason) || a.requestedAt - b.requestedAt),
  waiting: pending.filter((p) => p.notBefore > now)
})

/** The wake to keep when a run could not proceed: same reason, same session key, a floor at now + delay. */
export const retryOf = (wake: PendingWake, now: number, retryDelayMs: number): PendingWake => ({
  ...wake,
  notBefore: now + retryDelayMs
})

/** Tries after a failed relay before its events wait for the next wake. */
export const RELAY_RETRIES = 8

/**
 * When to retry a relay after `failures` failed ones in a row: doubling from 10 s (or the retry
 * floor, if larger) up to 10 minutes; undefined once RELAY_RETRIES have failed. Pure.
 */
export const relayRetryDelay = (failures: number, floor: Duration.Duration): Duration.Duration | undefined => {
  if (failures > RELAY_RETRIES) return undefined
  const base = Math.max(Duration.toMillis(floor), 10_000)
  return Duration.millis(Math.min(base * 2 ** (failures - 1), 600_000))
}
