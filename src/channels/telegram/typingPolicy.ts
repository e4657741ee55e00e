// When to send a typing action: as soon as a Telegram chat's turn starts, then every `renewMs`
// while that same turn runs (Telegram shows "typing…" for about 5 s per action). Nothing once the
// turn has ended. Pure.

export interface RunningTurn {
  readonly id: string
  readonly source: string
}

export interface TypingState {
  readonly turnId: string
  readonly sentAt: number
}

export interface TypingDecision {
  /** The source to show typing in now, if any. */
  readonly send: string | undefined
  readonly state: TypingState | undefined
}

export const decideTyping = (
  state: TypingState | undefined,
  active: RunningTurn | undefined,
  now: number,
  renewMs: number
): TypingDecision => {
  if (active === undefined || !active.source.startsWith("telegram:")) return { send: undefined, state: undefined }
  if (state === undefined || state.turnId !== active.id || now - state.sentAt >= renewMs) {
    return { send: active.source, state: { turnId: active.id, sentAt: now } }
  }
  return { send: undefined, state }
}
