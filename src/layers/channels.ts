// The channel list. Adding a channel adds its folder under src/channels/ and one line here.
import { Effect, Layer } from "effect"
import type { ChannelDefinition, ChannelServices } from "../channels/Channel.ts"
import { cli } from "../channels/cli/definition.ts"
import { discord } from "../channels/discord/definition.ts"
import { http } from "../channels/http/definition.ts"
import { redis } from "../channels/redis/definition.ts"
import { slack } from "../channels/slack/definition.ts"
import { telegram } from "../channels/telegram/definition.ts"
import { ChannelLife, Channels } from "../core/Channels.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"

/** Always on and cheap: part of the core graph (their sender is the Inbox). */
export const builtinChannels = [http, cli] as const

/** On when their settings say so; started after the HTTP server listens. */
export const optionalChannels: ReadonlyArray<ChannelDefinition> = [
  telegram,
  discord,
  slack,
  redis
]

/** A channel's layer as started: what it needs, less the handle it is given. */
type Started<R> = Layer.Layer<never, unknown, Exclude<R, ChannelLife> | Channels>

/** One channel: listed in Channels (traits, life) for as long as its layer lives. */
export const startChannel = <R extends ChannelServices>(definition: ChannelDefinition<R>): Started<R> =>
  Layer.unwrap(
    Effect.gen(function*() {
      const life = yield* (yield* Channels).add(definition.name, definition.traits)
      return definition.layer.pipe(Layer.provide(Layer.succeed(ChannelLife, life)))
    })
  )

/**
 * The definitions enabled by the settings, started side by side once `first` is built (the daemon
 * passes its HTTP server). Each is listed in Channels (`starting`) before `first`: /health names a
 * channel that is not receiving yet from its very first answer.
 */
export const startChannelsAfter = <R extends ChannelServices, A, E, RF>(
  definitions: ReadonlyArray<ChannelDefinition<R>>,
  first: Layer.Layer<A, E, RF>
) =>
  Layer.unwrap(
    Effect.gen(function*() {
      const settings = yield* GatewayConfig
      const registry = yield* Channels
      const enabled = definitions.filter((d) => d.enabled(settings))
      const started = yield* Effect.forEach(enabled, (d) =>
        Effect.map(registry.add(d.name, d.traits), (life) => d.layer.pipe(Layer.provide(Layer.succeed(ChannelLife, life)))))
      const all = started.reduce<Layer.Layer<never, unknown, Exclude<R, ChannelLife>>>((all, l) => Layer.merge(all, l), Layer.empty)
      return all.pipe(Layer.provideMerge(first))
    })
  )

/** The definitions enabled by the settings, started side by side. */
export const startChannels = <R extends ChannelServices>(definitions: ReadonlyArray<ChannelDefinition<R>>) =>
  startChannelsAfter(definitions, Layer.empty)
