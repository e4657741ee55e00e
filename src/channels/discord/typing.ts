// The typing indicator: while a Discord channel's turn runs, POST /typing at its start and every
// `renew` (Discord shows "typing…" for about 10 s, or until the bot's next message). Follows
// Dispatcher.active on a short schedule, like Telegram's, until the turn lifecycle events of the
// channel contract replace the polling.
import { Clock, Duration, Effect, Schedule } from "effect"
import type { ActiveTurn } from "../../core/Dispatcher.ts"
import type { DiscordApi } from "./DiscordApi.ts"
import { parseTarget, postChannel } from "./target.ts"

export const typingLoop = (options: {
  readonly api: DiscordApi["Service"]
  readonly active: Effect.Effect<ActiveTurn | undefined>
  readonly renew: Duration.Duration
  readonly checkEvery?: Duration.Input
}) =>
  Effect.gen(function*() {
    const renewMs = Duration.toMillis(options.renew)
    const last: { turnId: string | undefined; at: number } = { turnId: undefined, at: 0 }
    const tick = Effect.gen(function*() {
      const turn = yield* options.active
      const address = turn === undefined ? undefined : parseTarget(turn.source)
      if (turn === undefined || address === undefined) return void (last.turnId = undefined)
      const now = yield* Clock.currentTimeMillis
      if (last.turnId === turn.id && now - last.at < renewMs) return
      last.turnId = turn.id
      last.at = now
      yield* options.api.typing(postChannel(address)).pipe(
        Effect.timeout("4 seconds"),
        Effect.catch((e) => Effect.logDebug(`discord typing indicator not sent: ${e.message}`))
      )
    })
    return yield* tick.pipe(Effect.repeat(Schedule.spaced(options.checkEvery ?? "500 millis")), Effect.asVoid)
  })
