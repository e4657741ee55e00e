// The typing indicator: while a Telegram chat's turn runs, send "typing" at its start and every
// `renewMs`; nothing after the turn ends. Reads Dispatcher.active on a short schedule, so it
// follows whatever turn the Dispatcher runs without hooks into the turn itself.
import { Clock, Duration, Effect, Schedule } from "effect"
import type { ActiveTurn } from "../../core/Dispatcher.ts"
import { addressFields, parseTarget } from "./target.ts"
import type { TelegramApi } from "./TelegramApi.ts"
import { decideTyping, type TypingState } from "./typingPolicy.ts"

export interface TypingOptions {
  readonly api: TelegramApi["Service"]
  readonly active: Effect.Effect<ActiveTurn | undefined>
  readonly renew: Duration.Duration
  /** How often the running turn is looked at. */
  readonly checkEvery?: Duration.Input
}

export const typingLoop = (options: TypingOptions) =>
  Effect.gen(function*() {
    const renewMs = Duration.toMillis(options.renew)
    const state: { current: TypingState | undefined } = { current: undefined }
    const tick = Effect.gen(function*() {
      const active = yield* options.active
      const decision = decideTyping(state.current, active, yield* Clock.currentTimeMillis, renewMs)
      state.current = decision.state
      const address = decision.send === undefined ? undefined : parseTarget(decision.send)
      if (address === undefined) return
      yield* options.api.call("sendChatAction", { ...addressFields(address), action: "typing" }, "4 seconds").pipe(
        Effect.catch((e) => Effect.logDebug(`typing indicator not sent: ${e.message}`))
      )
    })
    return yield* tick.pipe(Effect.repeat(Schedule.spaced(options.checkEvery ?? "500 millis")), Effect.asVoid)
  })
