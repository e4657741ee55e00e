// Receivers on effect/cluster: each channel's receiver is a Singleton, run by exactly one daemon at
// a time (the one that owns its shard). The others report the channel as `standby`; when the owner
// dies, another starts the receiver once the shard lock expires.
import { Effect, Layer } from "effect"
import { Sharding, Singleton } from "effect/cluster"
import { Receivers } from "../core/Receivers.ts"

export const clusterReceivers = Layer.effect(
  Receivers,
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    return Receivers.of({
      run: (name, receive, life) =>
        Effect.gen(function*() {
          if (life !== undefined) yield* life.standby
          const singleton = Singleton.make(
            `receiver/${name}`,
            Effect.logInfo(`this daemon runs ${name}`).pipe(
              Effect.andThen(receive),
              Effect.onInterrupt(() => life === undefined ? Effect.void : life.standby)
            )
          )
          yield* Layer.buildWithScope(singleton.pipe(Layer.provide(Layer.succeed(Sharding.Sharding, sharding))), yield* Effect.scope)
        })
    })
  })
)
