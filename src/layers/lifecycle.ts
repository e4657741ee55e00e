// What a start and a stop do around the service graph. Everything that must survive is in the
// Store from the moment it is accepted, so a stop keeps nothing by itself: a stop and a crash
// leave the same state. At start: an older version's pending.jsonl / outbox.jsonl are taken into
// the store. At stop, in this order, while the channels can still deliver: the Dispatcher drains
// (the running turn finishes within the grace), our own answers in flight are settled, and the
// outbox stops re-sending (a message on the wire is not also left to be sent again).
import { Effect, Layer } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Dispatcher } from "../core/Dispatcher.ts"
import { Intake } from "../core/Intake.ts"
import { importLegacyFiles } from "../core/legacyFiles.ts"
import { Router } from "../core/Router.ts"

/** Compose it outermost: its stop runs before any channel closes. */
export const lifecycle = Layer.effectDiscard(
  Effect.gen(function*() {
    const dispatcher = yield* Dispatcher
    const intake = yield* Intake
    const router = yield* Router
    yield* Effect.addFinalizer(() =>
      dispatcher.drain.pipe(Effect.andThen(intake.settle), Effect.andThen(router.stopOutbox))
    )
    yield* importLegacyFiles((yield* GatewayConfig).stateDir)
  })
)
