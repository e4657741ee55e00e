// TurnHandoff on effect/cluster: a request is sent to its session's entity and stored in Postgres
// (discard: acknowledged once stored, not when answered). The reply goes out from the daemon that
// runs the turn, through its Router.
import { Effect, Layer } from "effect"
import { HandoffFailed } from "../domain/errors.ts"
import { TurnHandoff } from "../core/TurnHandoff.ts"
import { SessionControl, SessionEntity } from "./SessionEntity.ts"

export const clusterHandoff = Layer.effect(
  TurnHandoff,
  Effect.gen(function*() {
    const client = yield* SessionEntity.client
    const control = yield* SessionControl.client
    const failed = (e: { readonly _tag: string }) => new HandoffFailed({ reason: e._tag })
    return TurnHandoff.of({
      // The same primary key: the cluster answers with the stored reply, or waits for the running turn.
      stop: (source, sessionKey) => control(sessionKey).Stop({ source }).pipe(Effect.mapError(failed)),
      outcome: (request, sessionKey) => client(sessionKey).Turn({ request }).pipe(Effect.mapError(failed)),
      send: (request, sessionKey) =>
        client(sessionKey).Turn({ request }, { discard: true }).pipe(
          Effect.mapError(failed),
          Effect.withSpan("cluster.handoff", { attributes: { "switchboard.session": sessionKey, "switchboard.request_id": request.id } })
        )
    })
  })
)
