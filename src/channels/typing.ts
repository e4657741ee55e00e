// A typing indicator that follows the turn lifecycle (TurnEvents): when a turn for one of this
// channel's sources starts, show "typing" there at once and renew it every `renew`; stop when that
// turn finishes (or any other turn starts: turns are serial, so a lost "finished" cannot leave a
// chat typing forever). Used by the channels whose chats have one (Telegram, Discord).
import { Duration, Effect, FiberHandle, Schedule } from "effect"
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
    const handle = yield* FiberHandle.make<void, never>()
    const current: { requestId: string | undefined } = { requestId: undefined }
    const show = (requestId: string, source: string) =>
      Effect.suspend(() => {
        current.requestId = requestId
        return FiberHandle.run(handle, options.send(source).pipe(Effect.repeat(Schedule.spaced(options.renew)), Effect.asVoid))
      })
    const stop = Effect.suspend(() => {
      current.requestId = undefined
      return FiberHandle.clear(handle)
    })
    const ours = (source: string) => channelOf(source) === options.channel

    yield* onTurnEvents((event) =>
      event._tag === "TurnStarted"
        ? ours(event.source) ? Effect.asVoid(show(event.requestId, event.source)) : stop
        : event.requestId === current.requestId ? stop : Effect.void
    )
    // A turn that was already running when the channel started (its "started" came before us).
    const active = yield* (yield* Dispatcher).active
    if (active !== undefined && ours(active.source) && current.requestId === undefined) {
      yield* show(active.id, active.source)
    }
  })
