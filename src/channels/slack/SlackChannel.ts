// The Slack channel: Socket Mode (or HTTP events on the daemon's server) in, one sender for every
// `slack:*` target out, and a /status section with a health check. Everything it holds lives in
// this layer's scope: closing it closes the connection, removes the events route and unregisters
// the sender.
import { Context, Effect, FiberSet, Layer, Option } from "effect"
import { ConfigInvalid, GatewayConfig } from "../../config/GatewayConfig.ts"
import { ChannelLife } from "../../core/Channels.ts"
import { Intake } from "../../core/Intake.ts"
import { Questions } from "../../core/Questions.ts"
import { Receivers } from "../../core/Receivers.ts"
import { Router } from "../../core/Router.ts"
import { type HealthCheck, Status } from "../../core/Status.ts"
import { makeAllowlist } from "./allowlist.ts"
import { serveEvents } from "./events.ts"
import { type BotIdentity, makeInbound, makeRequesters } from "./inbound.ts"
import type { LogSink } from "./libraryLogger.ts"
import { makeQuestionButtons } from "./questionButtons.ts"
import { makeSender } from "./sender.ts"
import { SlackApi } from "./SlackApi.ts"
import { runSocketMode } from "./socketMode.ts"
import { emptyStats, type SlackStats } from "./stats.ts"
import { supervised } from "../../core/supervised.ts"

/** Consecutive failed connection attempts before /health reports the channel as failing. */
const FAILING_AFTER = 3

export class SlackChannel extends Context.Service<SlackChannel, {
  readonly stats: Effect.Effect<Readonly<SlackStats>>
}>()("switchboard/SlackChannel") {
  /** The channel over any SlackApi (tests point the live one at the fake). */
  static readonly layerWithApi = Layer.effect(
    SlackChannel,
    Effect.gen(function*() {
      const config = (yield* GatewayConfig).slack
      const api = yield* SlackApi
      const intake = yield* Intake
      const router = yield* Router
      const status = yield* Status
      const questions = yield* Questions
      const life = yield* ChannelLife

      const appToken = Option.getOrUndefined(config.appToken)
      const signingSecret = Option.getOrUndefined(config.signingSecret)
      if (appToken === undefined && signingSecret === undefined) {
        return yield* new ConfigInvalid({
          variable: "SLACK_APP_TOKEN",
          expected: "required with SLACK_BOT_TOKEN for Socket Mode (or set SLACK_SIGNING_SECRET for HTTP events)"
        })
      }
      const stats = emptyStats(appToken === undefined ? "http" : "socket")
      const buttons = makeQuestionButtons()
      const requesters = makeRequesters()
      const allowlist = makeAllowlist({ channels: config.allowedChannelIds, users: config.allowedUserIds, api })
      const bot: BotIdentity = { userId: undefined, botId: undefined }

      const sender = yield* makeSender({ api, stats, buttons, allowlist, requester: requesters.get })
      yield* router.register({ channel: "slack", send: sender.send })

      const background = yield* FiberSet.make<unknown, unknown>()
      const inbound = makeInbound({ api, intake, router, questions, buttons, allowlist, stats, bot, requesters, background })

      yield* status.contribute("slack", Effect.sync(() => ({
        ...stats,
        allowedChannels: config.allowedChannelIds.length,
        allowedUsers: config.allowedUserIds.length
      })))
      yield* status.contributeHealth(
        "slack",
        Effect.sync((): HealthCheck => {
          if (stats.state === "connected" || stats.state === "http") return { status: "pass" }
          if (stats.state === "starting") return { status: "warn", detail: "connecting to Slack" }
          return {
            status: stats.consecutiveFailures >= FAILING_AFTER ? "fail" : "warn",
            detail: `Socket Mode disconnected${stats.consecutiveFailures > 0 ? `, ${stats.consecutiveFailures} failed attempts in a row` : ""}: ${stats.lastError ?? "reconnecting"}`
          }
        })
      )

      // The libraries' own complaints, in our log format, at debug level: the channel itself logs
      // every connection change with its reason (a dropped socket is routine for Socket Mode).
      const context = yield* Effect.context<never>()
      const log: LogSink = (level, text) => Effect.runForkWith(context)(Effect.logDebug(text).pipe(Effect.annotateLogs({ level })))

      // Who the bot is, so its own messages and a leading mention of it are recognised.
      const identify = api.call("auth.test", {}).pipe(
        Effect.tap((me) => Effect.sync(() => {
          bot.userId = typeof me["user_id"] === "string" ? me["user_id"] : undefined
          bot.botId = typeof me["bot_id"] === "string" ? me["bot_id"] : undefined
          stats.bot = typeof me["user"] === "string" ? `@${me["user"]}` : null
        })),
        Effect.catch((e) => Effect.logWarning(`slack auth.test failed: ${e.message}`))
      )

      yield* Effect.addFinalizer(() => Effect.sync(() => (stats.state = "stopped")))
      if (signingSecret !== undefined) {
        yield* serveEvents({
          path: config.eventsPath as `/${string}`,
          secret: signingSecret,
          handleEvent: inbound.handleEvent,
          handleInteractive: inbound.handleInteractive
        })
      }
      const receive = appToken === undefined
        ? Effect.sync(() => (stats.state = "http")).pipe(Effect.andThen(life.up))
        : runSocketMode({
          appToken,
          apiRoot: config.apiRoot,
          stats,
          handle: inbound.handleEnvelope,
          connectTimeout: config.connectTimeout,
          log,
          up: life.up,
          down: life.failing
        })
      // One Socket Mode connection per app: in a cluster only one daemon holds it.
      yield* (yield* Receivers.orLocal).run("slack", identify.pipe(Effect.andThen(receive), supervised({ name: "slack receive", life })), life)
      yield* Effect.logInfo("slack channel started").pipe(
        Effect.annotateLogs({ mode: stats.mode, allowedChannels: config.allowedChannelIds.length, allowedUsers: config.allowedUserIds.length })
      )

      return SlackChannel.of({ stats: Effect.sync(() => ({ ...stats })) })
    })
  )

  /** The live channel: SLACK_BOT_TOKEN and SLACK_API_ROOT through @slack/web-api. */
  static readonly layer = SlackChannel.layerWithApi.pipe(Layer.provide(SlackApi.layer))
}
