// When the interval ticks. Pure. The wall clock can be stepped (NTP, a laptop waking up): a clock
// set back must neither stop ticks until it catches up nor postpone a new runner's first tick.

/**
 * Whether a tick at `now` falls in the slot already ticked at `lastTickAt` (a runner replaced
 * right at a slot can reach it after its successor did). Within half an interval either way.
 */
export const sameSlot = (now: number, lastTickAt: number | undefined, everyMs: number): boolean =>
  lastTickAt !== undefined && Math.abs(now - lastTickAt) < everyMs / 2

/** A new runner keeps the phase: its first tick one interval after the last one, never later. */
export const firstTickDelay = (now: number, lastTickAt: number | undefined, everyMs: number): number =>
  lastTickAt === undefined ? 0 : Math.min(everyMs, Math.max(0, lastTickAt + everyMs - now))
