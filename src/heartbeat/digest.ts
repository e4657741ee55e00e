// The notification digest hook the heartbeat flushes each tick. A no-op until background checks
// exist; HealthChecks will provide its own flush through this reference.
import { Context, Effect } from "effect"

export interface Digest {
  readonly flush: Effect.Effect<void>
}

export const DigestHook = Context.Reference<Digest>("switchboard/DigestHook", {
  defaultValue: () => ({ flush: Effect.void })
})
