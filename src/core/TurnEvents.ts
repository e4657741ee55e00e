// The turn lifecycle as events: the Dispatcher publishes "turn started" and "turn finished" (with
// the request's source and id); typing indicators and live views subscribe instead of polling
// Dispatcher.active. A sliding PubSub: a subscriber that falls behind loses the oldest events,
// never slows the Dispatcher down.
import { Cause, Context, Effect, Layer, PubSub, type Scope, Stream } from "effect"
import type { Inbound } from "../domain/model.ts"

/** Events a subscriber can be behind by before the oldest are dropped (per subscriber). */
export const TURN_EVENTS_BUFFER = 256

export type TurnEvent =
  | {
    readonly _tag: "TurnStarted"
    readonly requestId: string
    readonly source: string
    readonly priority: Inbound["priority"]
    /** Epoch milliseconds. */
    readonly at: number
  }
  | {
    readonly _tag: "TurnFinished"
    readonly requestId: string
    readonly source: string
    readonly priority: Inbound["priority"]
    /** Replied, Failed, Aborted, TimedOut, ShutDown (Dispatcher's TurnOutcome tags). */
    readonly outcome: string
    readonly at: number
    readonly durationMs: number
  }

export class TurnEvents extends Context.Service<TurnEvents, {
  readonly publish: (event: TurnEvent) => Effect.Effect<void>
  /**
   * Events published from now on, for as long as the caller's scope lives. Subscribe before
   * doing anything that may start a turn, and no event is missed.
   */
  readonly subscribe: Effect.Effect<PubSub.Subscription<TurnEvent>, never, Scope.Scope>
  /** The same as a Stream (subscribes when the stream starts). */
  readonly stream: Stream.Stream<TurnEvent>
}>()("switchboard/TurnEvents") {
  static readonly layer = Layer.effect(
    TurnEvents,
    Effect.gen(function*() {
      const pubsub = yield* PubSub.sliding<TurnEvent>(TURN_EVENTS_BUFFER)
      yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))
      return TurnEvents.of({
        publish: (event) => Effect.asVoid(PubSub.publish(pubsub, event)),
        subscribe: PubSub.subscribe(pubsub),
        stream: Stream.fromPubSub(pubsub)
      })
    })
  )
}

/** Run `handle` on every event while the caller's scope lives (subscribed before this returns). */
export const onTurnEvents = <R>(handle: (event: TurnEvent) => Effect.Effect<void, never, R>) =>
  Effect.gen(function*() {
    const subscription = yield* (yield* TurnEvents).subscribe
    yield* PubSub.take(subscription).pipe(
      // One event's handler going wrong is logged; the next event is handled all the same.
      Effect.flatMap((event) =>
        handle(event).pipe(Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError("turn event handler failed", cause)
        ))
      ),
      Effect.forever,
      Effect.forkScoped
    )
  })
