// When turns move to the fallback model and what counts as a failure. Pure.
import type { AiError } from "effect/ai"
import { timeoutKindOf } from "./errors.ts"

export type Endpoint = "primary" | "fallback"

export interface FallbackState {
  readonly active: Endpoint
  readonly consecutiveFailures: number
  readonly switches: number
  readonly restores: number
  readonly lastSwitchAt?: number | undefined
  readonly lastSwitchReason?: string | undefined
}

export const initialFallbackState: FallbackState = { active: "primary", consecutiveFailures: 0, switches: 0, restores: 0 }

/**
 * `switch`: move now (the endpoint stalled before its first token). `count`: one more failure of
 * the endpoint. `ignore`: our request or the conversation is at fault, or a long answer was still
 * streaming when the total timeout hit: the endpoint itself was fine.
 */
export type FailureClass = "switch" | "count" | "ignore"

export const classify = (e: AiError.AiError): FailureClass => {
  const timeout = timeoutKindOf(e)
  if (timeout !== undefined) return timeout.kind === "first-token" ? "switch" : timeout.started ? "ignore" : "count"
  switch (e.reason._tag) {
    case "InvalidRequestError":
    case "ContentPolicyError":
    case "InvalidUserInputError":
    case "ToolNotFoundError":
    case "ToolParameterValidationError":
    case "InvalidToolResultError":
    case "ToolResultEncodingError":
    case "ToolConfigurationError":
    case "ToolkitRequiredError":
    case "StructuredOutputError":
    case "UnsupportedSchemaError":
      return "ignore"
    default:
      return "count"
  }
}

export const onSuccess = (s: FallbackState): FallbackState =>
  s.consecutiveFailures === 0 ? s : { ...s, consecutiveFailures: 0 }

/** The state after a failed primary request, and whether turns now go to the fallback. */
export const onPrimaryFailure = (
  s: FallbackState,
  failure: FailureClass,
  after: number,
  now: number
): { readonly state: FallbackState; readonly switched: boolean } => {
  if (failure === "ignore" || s.active === "fallback") return { state: s, switched: false }
  const failures = s.consecutiveFailures + 1
  if (failure === "switch" || failures >= after) {
    return {
      state: {
        ...s,
        active: "fallback",
        consecutiveFailures: 0,
        switches: s.switches + 1,
        lastSwitchAt: now,
        lastSwitchReason: failure === "switch" ? "first-token timeout" : `${failures} consecutive failures`
      },
      switched: true
    }
  }
  return { state: { ...s, consecutiveFailures: failures }, switched: false }
}

export const onRestore = (s: FallbackState, now: number): FallbackState => ({
  ...s,
  active: "primary",
  consecutiveFailures: 0,
  restores: s.restores + 1,
  lastSwitchAt: now,
  lastSwitchReason: "primary answered a probe"
})
