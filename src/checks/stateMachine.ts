// One check's state: unknown → ok ⇄ failing, with failAfter (consecutive failures before it
// counts as failing), flap damping (more than N changes in a window: reported once as flapping,
// later changes go to the digest until it has been steady for a window) and cooldown (a failure
// within the cooldown of the last alert goes to the digest). A recovery goes where the failure it
// ends went. Pure: the Checks service feeds it results and acts on the transitions.

export type CheckState = "unknown" | "ok" | "failing"

export interface Result {
  readonly ok: boolean
  readonly detail: string
  /** Counts as failing at once, whatever failAfter says (a pushed check gone silent). */
  readonly force?: boolean | undefined
}

export interface Policy {
  readonly failAfter: number
  readonly flapFlips: number
  readonly flapWindowMs: number
  readonly cooldownMs: number
}

export interface Machine {
  readonly state: CheckState
  /** When the current state began. */
  readonly since: number
  /** Failed results in a row. */
  readonly failures: number
  /** When the current run of failures began. */
  readonly firstFailureAt: number | undefined
  /** Times of the last changes of state (ok ⇄ failing), within the flap window. */
  readonly flips: ReadonlyArray<number>
  readonly flapping: boolean
  /** Last failure/flapping alert that went to triage, for the cooldown. */
  readonly lastAlertAt: number | undefined
  /** Whether the current failure went to triage (its recovery goes the same way). */
  readonly failureAlerted: boolean
}

/** Where a transition goes: through the triage rules, or straight to the digest (and why). */
export type Route = { readonly to: "triage" } | { readonly to: "digest"; readonly why: "flapping" | "cooldown" }

export type Transition =
  | { readonly event: "failing"; readonly detail: string; readonly failures: number; readonly since: number; readonly route: Route }
  | { readonly event: "recovered"; readonly detail: string; readonly downMs: number; readonly route: Route }
  | { readonly event: "flapping"; readonly flips: number; readonly state: CheckState; readonly route: Route }
  | { readonly event: "settled"; readonly state: CheckState; readonly detail: string; readonly route: Route }

export const initialMachine = (now: number): Machine => ({
  state: "unknown",
  since: now,
  failures: 0,
  firstFailureAt: undefined,
  flips: [],
  flapping: false,
  lastAlertAt: undefined,
  failureAlerted: false
})

const TRIAGE: Route = { to: "triage" }

export const step = (
  m: Machine,
  result: Result,
  now: number,
  policy: Policy
): { readonly machine: Machine; readonly transitions: ReadonlyArray<Transition> } => {
  const transitions: Array<Transition> = []
  const failures = result.ok ? 0 : m.failures + 1
  const firstFailureAt = result.ok ? undefined : m.firstFailureAt ?? now
  const counted: CheckState = result.ok
    ? "ok"
    : failures >= policy.failAfter || result.force === true || m.state === "failing"
    ? "failing"
    : m.state === "unknown" ? "unknown" : "ok"
  let next: Machine = { ...m, failures, firstFailureAt }
  const windowStart = now - policy.flapWindowMs

  if (counted !== m.state) {
    // unknown → ok is how every healthy check starts: not a change worth a flip or a message.
    const isFlip = !(m.state === "unknown" && counted === "ok")
    const flips = isFlip ? [...m.flips.filter((t) => t > windowStart), now] : m.flips
    next = { ...next, state: counted, since: now, flips }
    if (isFlip) {
      if (!m.flapping && flips.length > policy.flapFlips) {
        next = { ...next, flapping: true, lastAlertAt: now, failureAlerted: counted === "failing" }
        transitions.push({ event: "flapping", flips: flips.length, state: counted, route: TRIAGE })
      } else if (m.flapping) {
        const route: Route = { to: "digest", why: "flapping" }
        transitions.push(
          counted === "failing"
            ? { event: "failing", detail: result.detail, failures, since: firstFailureAt ?? now, route }
            : { event: "recovered", detail: result.detail, downMs: now - m.since, route }
        )
        next = { ...next, failureAlerted: false }
      } else if (counted === "failing") {
        const cooling = m.lastAlertAt !== undefined && now - m.lastAlertAt < policy.cooldownMs
        const route: Route = cooling ? { to: "digest", why: "cooldown" } : TRIAGE
        transitions.push({ event: "failing", detail: result.detail, failures, since: firstFailureAt ?? now, route })
        next = { ...next, failureAlerted: !cooling, lastAlertAt: cooling ? m.lastAlertAt : now }
      } else {
        const route: Route = m.failureAlerted ? TRIAGE : { to: "digest", why: "cooldown" }
        transitions.push({ event: "recovered", detail: result.detail, downMs: now - m.since, route })
        next = { ...next, failureAlerted: false }
      }
    }
  } else if (m.flapping && (m.flips.at(-1) ?? m.since) <= windowStart) {
    // Steady for a whole window: say where it ended up, once; then back to normal reporting.
    next = { ...next, flapping: false, flips: [], failureAlerted: counted === "failing", lastAlertAt: now }
    transitions.push({ event: "settled", state: counted, detail: result.detail, route: TRIAGE })
  }
  return { machine: next, transitions }
}
