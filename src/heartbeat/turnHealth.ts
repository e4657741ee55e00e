// Judging the running turn for /health: the Dispatcher stops a turn at its timeout, so a turn older
// than that (plus grace) means the stop did not work and the session is stuck.
import type { TripwireLevel } from "./tripwire.ts"

export interface TurnJudgement {
  readonly status: TripwireLevel
  readonly detail: string
}

/** The detail is public (/health needs no token): the turn's age only, never who it is for. */
export const judgeTurn = (
  active: { readonly startedAt: number } | undefined,
  now: number,
  timeoutMs: number,
  graceMs: number
): TurnJudgement => {
  if (active === undefined) return { status: "pass", detail: "idle" }
  const age = Math.max(0, now - active.startedAt)
  const what = `a turn running for ${Math.round(age / 1000)}s (see /status)`
  if (age > timeoutMs + graceMs) return { status: "fail", detail: `${what}: stuck past its ${Math.round(timeoutMs / 1000)}s limit` }
  if (age > timeoutMs) return { status: "warn", detail: `${what}: past its ${Math.round(timeoutMs / 1000)}s limit` }
  return { status: "pass", detail: what }
}
