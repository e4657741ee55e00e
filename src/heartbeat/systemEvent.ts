// A system event as it waits for its session key: data only, shared by the queue and the relay prompt.
export interface SystemEvent {
  readonly id: string
  readonly sessionKey: string
  readonly text: string
  readonly contextKey?: string | undefined
  /** Untrusted text (from outside) is labelled as such when it reaches the model. */
  readonly trusted: boolean
  readonly at: number
}
