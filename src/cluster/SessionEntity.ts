// A session (agent + conversation) as an effect/cluster Entity, keyed by its session key
// (`<agent>/<conversation>`). Its mailbox is serial: one Turn at a time per session across every
// daemon. Turns are Persisted in Postgres before they are acknowledged, with the request id as
// primary key, so a redelivered request (a Telegram update fetched again, a Redis entry claimed by
// another daemon) is run once. The handler runs the turn in this daemon's Dispatcher.
import { Effect, Schema } from "effect"
import { ClusterSchema, Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { Inbound } from "../domain/model.ts"
import { Dispatcher } from "../core/Dispatcher.ts"

/** A turn's outcome (its reply went out through the Router of the daemon that ran it). */
export const TurnOutcomeSchema = Schema.Union([
  Schema.TaggedStruct("Replied", { text: Schema.String }),
  Schema.TaggedStruct("Failed", { reason: Schema.String, userMessage: Schema.String }),
  Schema.TaggedStruct("Aborted", {}),
  Schema.TaggedStruct("TimedOut", {}),
  Schema.TaggedStruct("ShutDown", {})
])

export const Turn = Rpc.make("Turn", {
  payload: { request: Inbound },
  success: TurnOutcomeSchema,
  primaryKey: ({ request }) => request.id
}).pipe(
  (rpc) => rpc.annotate(ClusterSchema.Persisted, true),
  // A caller that stops waiting (a daemon's stop, a relay's follower) does not interrupt the turn.
  (rpc) => rpc.annotate(ClusterSchema.Uninterruptible, "client"),
  // When this daemon lets the session go, a turn still in hand is cut off and replayed by the next
  // owner at once, instead of after effect/cluster's termination grace.
  (rpc) => rpc.annotate(ClusterSchema.InterruptOnTermination, true)
)

export const SessionEntity = Entity.make("Session", [Turn])

/**
 * A /stop cannot wait in the session's serial mailbox behind the turn it stops: it goes to a second
 * entity with the same id, which lives on the same daemon (shards follow the id, not the type).
 */
export const Stop = Rpc.make("Stop", { payload: { source: Schema.String }, success: Schema.Boolean })
export const SessionControl = Entity.make("SessionControl", [Stop])

export const sessionControlLayer = SessionControl.toLayer(
  Effect.gen(function*() {
    const dispatcher = yield* Dispatcher
    return SessionControl.of({ Stop: ({ payload }) => dispatcher.abort(payload.source) })
  }),
  { maxIdleTime: "1 minute" }
)

/** Registers this daemon as a host of sessions: the turns of the shards it owns run here. */
export const sessionEntityLayer = SessionEntity.toLayer(
  Effect.gen(function*() {
    const dispatcher = yield* Dispatcher
    return SessionEntity.of({
      Turn: ({ payload }) =>
        dispatcher.runNow(payload.request).pipe(
          Effect.withSpan("cluster.turn", {
            attributes: { "switchboard.request_id": payload.request.id, "switchboard.source": payload.request.source }
          })
        )
    })
  }),
  // An idle session's entity is let go after this; its conversation stays in the Session (memory file).
  { maxIdleTime: "5 minutes" }
)
