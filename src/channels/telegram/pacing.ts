// Per-chat pacing: about one message per `intervalMs`, with bursts of up to `burst` messages, as a
// generic cell rate algorithm. `tat` is the theoretical arrival time of the next message; a
// reservation moves it forward, so concurrent senders to one chat queue up in order. Pure.

export interface PaceState {
  readonly tat: number
}

export interface Reservation {
  /** How long the caller waits before sending. */
  readonly waitMs: number
  readonly state: PaceState
}

export const reserve = (
  state: PaceState | undefined,
  now: number,
  intervalMs: number,
  burst: number
): Reservation => {
  const tat = Math.max(state?.tat ?? now, now) + intervalMs
  return { waitMs: Math.max(0, tat - burst * intervalMs - now), state: { tat } }
}

/** A chat's state is no longer needed once its bucket is full again. */
export const isIdle = (state: PaceState, now: number): boolean => state.tat <= now

/** Telegram allows about 20 messages a minute in a group (negative chat ids), one a second elsewhere. */
export const GROUP_INTERVAL_MS = 3000

export const chatIntervalMs = (chatId: number, baseMs: number): number =>
  chatId < 0 ? Math.max(baseMs, GROUP_INTERVAL_MS) : baseMs
