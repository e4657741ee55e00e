// Writing the tripwire as an effect: the default writer of a tick (write-then-rename in the state
// dir) and its error, so a runner can be given another writer in tests.
import { Effect, Schema } from "effect"
import { tripwirePath, writeTripwireSync } from "./tripwire.ts"

export class TripwireWriteFailed extends Schema.TaggedError<TripwireWriteFailed>()("TripwireWriteFailed", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `cannot write the tripwire ${this.path}: ${this.reason}`
  }
}

export const writeTripwireFile = (stateDir: string, at: number) =>
  Effect.try({
    try: () => writeTripwireSync(stateDir, at),
    catch: (e) => new TripwireWriteFailed({ path: tripwirePath(stateDir), reason: (e as Error).message })
  })
