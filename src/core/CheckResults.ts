// The seam for results of background checks pushed from outside (the bus's `check-result` entries,
// later `POST /v1/checks/:name`). The checks service (src/checks/, issue 12) provides it; a channel
// that receives results uses it through `Effect.serviceOption`, and without it says so (the bus
// dead-letters the entry with that reason) instead of dropping the result.
import { Context, type Effect, Schema } from "effect"

export const CheckStatus = Schema.Literals(["ok", "fail"])
export const CheckSeverity = Schema.Literals(["critical", "warning", "info"])

export interface CheckResult {
  /** The dedupe id: a result pushed twice (a retry, a redelivery) is reported once. */
  readonly id: string
  readonly name: string
  readonly status: typeof CheckStatus.Type
  readonly detail: string
  readonly severity?: typeof CheckSeverity.Type | undefined
  /** Where it came from, e.g. `redis` for the bus. */
  readonly via: string
  readonly at: number
}

/** A result the checks service will not take (e.g. an unknown check name): dead-lettered with this reason. */
export class CheckResultRejected extends Schema.TaggedError<CheckResultRejected>()("CheckResultRejected", {
  name: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `check ${this.name}: ${this.reason}`
  }
}

export class CheckResults extends Context.Service<CheckResults, {
  /** Returns once the result is accepted (committed where the checks service keeps state). */
  readonly report: (result: CheckResult) => Effect.Effect<void, CheckResultRejected>
}>()("switchboard/CheckResults") {}
