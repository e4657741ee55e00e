// The Discord channel: the gateway in (messages, slash commands, button presses), one sender for
// every `discord:*` target out, a typing indicator while a Discord channel's turn runs, and a
// /status section with a health check that warns while the gateway is disconnected. Everything it
// holds lives in this layer's scope: closing it closes the gateway and unregisters the sender.
import { Context, Effect, FiberSet, Layer, Metric, Queue, Schedule } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { ChannelLife } from "../../core/Channels.ts"
import { Intake } from "../../core/Intake.ts"
import { Questions } from "../../core/Questions.ts"
import { Receivers } from "../../core/Receivers.ts"
import { Router } from "../../core/Router.ts"
import { type HealthCheck, Status } from "../../core/Status.ts"
import { DiscordApi, fatalReason, isFatal } from "./DiscordApi.ts"
import { makeInbound } from "./inbound.ts"
import { makeInteractions, SLASH_COMMANDS } from "./interactions.ts"
import { discordGatewayUp } from "./metrics.ts"
import { makePlaces } from "./places.ts"
import { makeSender } from "./sender.ts"
import { BOUNDS, makeState } from "./state.ts"
import type { DiscordStats } from "./stats.ts"
import { parseTarget, postChannel } from "./target.ts"
import { typingDuringTurns } from "../typing.ts"
import { supervised } from "../../core/supervised.ts"

/** First connection attempts (GET /gateway/bot failing): exponential from 1 s, at most a minute apart. */
const connectRetry = Schedule.min([Schedule.exponential("1 second"), Schedule.spaced("1 minute")])

export const healthOf = (stats: DiscordStats): HealthCheck => {
  switch (stats.state) {
    case "ready":
    case "stopped":
      return { status: "pass" }
    case "failed":
      return { status: "fail", detail: stats.fatal ?? "the gateway gave up" }
    case "starting":
    case "connecting":
      return { status: "warn", detail: "connecting to the Discord gateway" }
    case "disconnected":
      return {
        status: "warn",
        detail: `gateway disconnected since ${stats.disconnectedSince ?? "?"} (close code ${stats.lastCloseCode ?? "?"}); reconnecting`
      }
  }
}

export class DiscordChannel extends Context.Service<DiscordChannel, {
  readonly stats: Effect.Effect<Readonly<DiscordStats>>
}>()("switchboard/DiscordChannel") {
  /** The channel over any DiscordApi (tests point the live one at the fake). */
  static readonly layerWithApi = Layer.effect(
    DiscordChannel,
    Effect.gen(function*() {
      const config = (yield* GatewayConfig).discord
      const api = yield* DiscordApi
      const intake = yield* Intake
      const router = yield* Router
      const status = yield* Status
      const questions = yield* Questions
      const life = yield* ChannelLife

      const state = makeState({
        channels: new Set(config.allowedChannelIds),
        users: new Set(config.allowedUserIds),
        requireMention: config.requireMention
      })
      const stats = state.stats
      const places = makePlaces(api, BOUNDS.channelInfo)
      const sender = makeSender({ api, state, places })
      yield* router.register({ channel: "discord", send: sender.send })

      const background = yield* FiberSet.make<unknown, unknown>()
      const interactions = makeInteractions({ api, intake, questions, state, places })
      const registerCommands = Effect.gen(function*() {
        const applicationId = state.me?.applicationId
        if (applicationId === undefined) return
        yield* api.registerCommands(applicationId, SLASH_COMMANDS).pipe(
          Effect.tap(() => Effect.sync(() => (stats.commands = "registered"))),
          Effect.catch((e) =>
            Effect.sync(() => (stats.commands = "failed")).pipe(
              Effect.andThen(Effect.logWarning(`could not register the Discord slash commands: ${e.message}`))
            )
          )
        )
      })
      const inbound = makeInbound({
        api,
        life,
        intake,
        router,
        state,
        places,
        background,
        onInteraction: interactions.handle,
        onFirstReady: FiberSet.run(background, registerCommands).pipe(Effect.asVoid)
      })

      yield* status.contribute("discord", Effect.sync(() => ({
        ...stats,
        allowedChannels: state.lists.channels.size,
        allowedUsers: state.lists.users.size
      })))
      yield* status.contributeHealth("discord", Effect.sync(() => healthOf(stats)))
      yield* Metric.update(discordGatewayUp, 0)

      // One fiber takes the gateway's events in order: per channel, messages reach Intake as sent.
      yield* Queue.take(api.events).pipe(
        Effect.flatMap(inbound.onEvent),
        Effect.forever,
        supervised({ name: "discord events", life }),
        Effect.forkScoped
      )
      const connect = Effect.sync(() => (stats.state = "connecting")).pipe(
        Effect.andThen(api.connect),
        Effect.tapError((e) =>
          isFatal(e)
            ? Effect.sync(() => {
              stats.state = "failed"
              stats.fatal = fatalReason(e)
            }).pipe(Effect.andThen(Effect.logError(`discord: ${fatalReason(e)}`)), Effect.andThen(life.failing(fatalReason(e))))
            : Effect.logWarning(`could not open the Discord gateway: ${e.message}; retrying`).pipe(Effect.andThen(life.failing(e.message)))
        ),
        Effect.retry({ schedule: connectRetry, while: (e) => !isFatal(e) }),
        Effect.ignore // a fatal refusal shows in /health (the Closed event) and the log
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => (stats.state = "stopped")))
      // One gateway session per bot: in a cluster only one daemon holds it, and closes it when it moves.
      const receive = connect.pipe(Effect.andThen(Effect.never), Effect.ensuring(api.disconnect))
      yield* (yield* Receivers.orLocal).run("discord", receive.pipe(supervised({ name: "discord connect", life })), life)
      yield* typingDuringTurns({
        channel: "discord",
        renew: config.typingEvery,
        send: (source) => {
          const address = parseTarget(source)
          return address === undefined ? Effect.void : api.typing(postChannel(address)).pipe(
            Effect.timeout("4 seconds"),
            Effect.catch((e) => Effect.logDebug(`discord typing indicator not sent: ${e.message}`))
          )
        }
      })
      yield* Effect.logInfo("discord channel started").pipe(
        Effect.annotateLogs({ allowedChannels: state.lists.channels.size, allowedUsers: state.lists.users.size })
      )
      return DiscordChannel.of({ stats: Effect.sync(() => ({ ...stats })) })
    })
  )

  /** The live channel: DISCORD_BOT_TOKEN and DISCORD_API_ROOT through the discord.js packages. */
  static readonly layer = DiscordChannel.layerWithApi.pipe(Layer.provide(DiscordApi.layer))
}
