// The tripwire: a file holding the ISO time of the last heartbeat tick. The daemon rewrites it every
// interval; an external watchdog restarts the daemon when it goes stale. Format and judgement are
// pure; the file helpers are synchronous on purpose (tiny, and they must work in a hung daemon's
// watchdog and inside TestClock tests alike).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { join } from "node:path"

export const TRIPWIRE_FILE = "tripwire"

export const tripwirePath = (stateDir: string) => join(stateDir, TRIPWIRE_FILE)

export const formatTripwire = (at: number): string => `${new Date(at).toISOString()}\n`

/** The tick time in ms, or undefined when the text is not one ISO timestamp. */
export const parseTripwire = (text: string): number | undefined => {
  const trimmed = text.trim()
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(trimmed)) return undefined
  const ms = Date.parse(trimmed)
  return Number.isFinite(ms) ? ms : undefined
}

/** Write-then-rename, so a reader never sees a half-written file. */
export const writeTripwireSync = (stateDir: string, at: number): void => {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const tmp = join(stateDir, `.${TRIPWIRE_FILE}.${process.pid}.tmp`)
  writeFileSync(tmp, formatTripwire(at), { mode: 0o600 })
  renameSync(tmp, tripwirePath(stateDir))
}

export type TripwireRead =
  | { readonly _tag: "Found"; readonly at: number }
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Unreadable"; readonly reason: string }
  /** The reader may not look (permissions, a directory in the way): says nothing about the daemon. */
  | { readonly _tag: "Inaccessible"; readonly reason: string }

export const readTripwireSync = (stateDir: string): TripwireRead => {
  let text: string
  try {
    text = readFileSync(tripwirePath(stateDir), "utf8")
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === "ENOENT") return { _tag: "Missing" }
    if (code === "EACCES" || code === "EPERM" || code === "ENOTDIR" || code === "EISDIR") {
      return { _tag: "Inaccessible", reason: (e as Error).message }
    }
    return { _tag: "Unreadable", reason: (e as Error).message }
  }
  const at = parseTripwire(text)
  return at === undefined ? { _tag: "Unreadable", reason: `not an ISO timestamp: ${JSON.stringify(text.slice(0, 40))}` } : { _tag: "Found", at }
}

export type TripwireLevel = "pass" | "warn" | "fail"

export interface TripwireJudgement {
  readonly status: TripwireLevel
  readonly ageMs: number | undefined
  readonly reason: string
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10}s`

/**
 * Stale means older than two intervals plus the grace: one missed tick is tolerated (a tick may be
 * late by a little), two are not. Half-way there is a warning.
 */
export const judgeTripwire = (
  read: TripwireRead,
  now: number,
  everyMs: number,
  graceMs: number
): TripwireJudgement => {
  if (read._tag === "Missing") return { status: "fail", ageMs: undefined, reason: "no tripwire file (the heartbeat never ticked)" }
  if (read._tag === "Unreadable") return { status: "fail", ageMs: undefined, reason: `tripwire unreadable: ${read.reason}` }
  if (read._tag === "Inaccessible") return { status: "warn", ageMs: undefined, reason: `cannot read the tripwire: ${read.reason}` }
  const age = Math.max(0, now - read.at)
  const limit = 2 * everyMs + graceMs
  if (age > limit) {
    return { status: "fail", ageMs: age, reason: `tripwire is ${seconds(age)} old (limit ${seconds(limit)}): heartbeat stalled` }
  }
  if (age > everyMs + graceMs) {
    return { status: "warn", ageMs: age, reason: `tripwire is ${seconds(age)} old (a tick is late)` }
  }
  return { status: "pass", ageMs: age, reason: `tripwire is ${seconds(age)} old` }
}
