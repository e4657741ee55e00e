// A typing indicator that follows the turn lifecycle (TurnEvents): when a turn for one of this
// channel's sources starts, show "typing" there at once and renew it every `renew`; stop when that
// turn finishes. Turns of several sessions may run at once, so each turn has its own indicator;
// none outlives the turn timeout (a "finished" event a slow subscriber lost cannot leave a chat
// typing forever). Used by the channels whose chats have one (Telegram, Discord).
import { Duration, Effect, FiberMap, Schedule } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Dispatcher } from "../core/Dispatcher.ts"
import { onTurnEvents } from "../core/TurnEvents.ts"
import { channelOf } from "../domain/source.ts"

export interface TypingOptions {
  /** The channel's name (source prefix). */
  readonly channel: string
  /** How often the indicator is sent again while the turn runs. */
  readonly renew: Duration.Input
  /** Show typing in this source's chat once; failures are the caller's to log (never fail). */
  readonly send: (source: string) => Effect.Effect<void>
}

/** Runs for as long as the caller's scope lives. */
export const typingDuringTurns = (options: TypingOptions) =>
  Effect.gen(function*() {
    const longest = (yield* GatewayConfig).turn.timeout
    const typing = yield* FiberMap.make<string, void, never>()
    const show = (requestId: string, source: string) =>
      FiberMap.run(
        typing,
        requestId,
        options.send(source).pipe(
          Effect.repeat(Schedule.spaced(options.renew)),
          Effect.timeoutOption(longest),
          Effect.asVoid
        ),
        { onlyIfMissing: true }
      )
    const ours = (source: string) => channelOf(source) === options.channel

    yield* onTurnEvents((event) =>
      !ours(event.source)
        ? Effect.void
        : event._tag === "TurnStarted"
        ? Effect.asVoid(show(event.requestId, event.source))
        : FiberMap.remove(typing, event.requestId)
    )
    // A turn that was already running when the channel started (its "started" came before us).
    const active = yield* (yield* Dispatcher).active
    if (active !== undefined && ours(active.source)) yield* show(active.id, active.source)
  })
