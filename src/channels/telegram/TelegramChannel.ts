// The Telegram channel: long polling (or a webhook route on the daemon's server) in, one sender for
// every `telegram:*` target out, a typing indicator while a Telegram chat's turn runs, and a
// /status section with a health check. Everything it holds lives in this layer's scope: closing
// the scope stops polling, confirms the offset of what was handed to Intake, removes the webhook
// route and unregisters the sender.
import { Context, Duration, Effect, FiberSet, Layer, Metric, Option, Redacted, Schedule } from "effect"
import { ChannelLife } from "../../core/Channels.ts"
import { supervised } from "../../core/supervised.ts"
import { ConfigInvalid, GatewayConfig } from "../../config/GatewayConfig.ts"
import { Intake } from "../../core/Intake.ts"
import { Questions } from "../../core/Questions.ts"
import { Receivers } from "../../core/Receivers.ts"
import { Router } from "../../core/Router.ts"
import { type HealthCheck, Status } from "../../core/Status.ts"
import { Store } from "../../store/Store.ts"
import { telegramKept } from "./durable.ts"
import { makeInbound } from "./inbound.ts"
import { makePolling, type PollState } from "./polling.ts"
import { makeQuestionButtons } from "./questionButtons.ts"
import { telegramFailingInARow, telegramPollFailures } from "./metrics.ts"
import { makeSender } from "./sender.ts"
import { emptyStats, type TelegramStats } from "./stats.ts"
import { TelegramApi } from "./TelegramApi.ts"
import { typingDuringTurns } from "../typing.ts"
import { addressFields, parseTarget } from "./target.ts"
import { serveWebhook, webhookPath } from "./webhook.ts"

export const ALLOWED_UPDATES = ["message", "callback_query"] as const

export const BOT_COMMANDS = [
  { command: "new", description: "Start a fresh conversation" },
  { command: "stop", description: "Stop what I am working on for this chat" },
  { command: "status", description: "Show the gateway's state" }
] as const

/** setWebhook retries: exponential from 1 s, at most a minute apart. */
const exponentialToMinute = Schedule.min([Schedule.exponential("1 second"), Schedule.spaced("1 minute")])

/** Consecutive failed polls before /health reports the channel as failing. */
const FAILING_AFTER = 3

export class TelegramChannel extends Context.Service<TelegramChannel, {
  readonly stats: Effect.Effect<Readonly<TelegramStats>>
  /** Handle one update received outside polling (the webhook). Never fails. */
  readonly handleUpdate: (update: unknown) => Effect.Effect<void>
}>()("switchboard/TelegramChannel") {
  /** The channel over any TelegramApi (tests provide a stub or point the live one at a fake). */
  static readonly layerWithApi = Layer.effect(
    TelegramChannel,
    Effect.gen(function*() {
      const config = (yield* GatewayConfig).telegram
      const api = yield* TelegramApi
      const intake = yield* Intake
      const router = yield* Router
      const status = yield* Status
      const questions = yield* Questions
      const life = yield* ChannelLife
      const store = yield* Store

      const webhookUrl = Option.getOrUndefined(config.webhookUrl)
      const webhookSecret = Option.getOrUndefined(config.webhookSecret)
      if (webhookUrl !== undefined && webhookSecret === undefined) {
        return yield* new ConfigInvalid({
          variable: "TELEGRAM_WEBHOOK_SECRET",
          expected: "required when TELEGRAM_WEBHOOK_URL is set (Telegram sends it with every update)"
        })
      }
      const path = webhookUrl === undefined ? undefined : yield* webhookPath(webhookUrl)
      const stats = emptyStats(webhookUrl === undefined ? "polling" : "webhook")
      const buttons = makeQuestionButtons()

      const sender = yield* makeSender({
        api,
        stats,
        buttons,
        allowedChatIds: config.allowedChatIds,
        paceIntervalMs: Duration.toMillis(config.paceInterval),
        paceBurst: config.paceBurst
      })
      yield* router.register({ channel: "telegram", send: sender.send })

      const background = yield* FiberSet.make<unknown, unknown>()
      // The bot id (the token's part before ":", not secret) keys what is kept: a new bot starts afresh.
      const botId = Option.match(config.botToken, { onNone: () => "bot", onSome: (t) => Redacted.value(t).split(":")[0]! })
      const kept = yield* telegramKept(store, botId, 2000)
      const inbound = makeInbound({
        kept,
        api,
        intake,
        router,
        questions,
        buttons,
        stats,
        background,
        allowedChatIds: config.allowedChatIds
      })

      yield* status.contribute("telegram", Effect.sync(() => ({ ...stats, allowedChats: config.allowedChatIds.length })))
      yield* status.contributeHealth(
        "telegram",
        Effect.sync((): HealthCheck =>
          stats.consecutiveFailures === 0
            ? { status: "pass" }
            : {
              status: stats.consecutiveFailures >= FAILING_AFTER ? "fail" : "warn",
              detail: `${stats.mode === "polling" ? "getUpdates" : "setWebhook"} failed ${stats.consecutiveFailures} times in a row: ${stats.lastError ?? "?"}`
            }
        )
      )

      // Cosmetic: who the bot is (for /cmd@bot in groups) and its command menu. Runs beside
      // receiving, never before it: a Bot API that is slow or odd here must not keep messages waiting.
      const startup = Effect.gen(function*() {
        const me = yield* api.call("getMe", {}).pipe(Effect.option)
        if (Option.isSome(me)) {
          const username = (me.value as { username?: unknown }).username
          stats.bot = typeof username === "string" ? `@${username}` : null
        }
        yield* api.call("setMyCommands", { commands: BOT_COMMANDS }).pipe(
          Effect.catch((e) => Effect.logWarning(`could not register the bot's commands: ${e.message}`))
        )
      })

      const state: PollState = { offset: kept.offset, confirmed: undefined }
      const polling = makePolling({
        saveOffset: kept.saveOffset,
        api,
        stats,
        state,
        handle: inbound.handle,
        life,
        pollTimeout: config.pollTimeout,
        allowedUpdates: ALLOWED_UPDATES
      })

      const receive = webhookUrl === undefined || path === undefined || webhookSecret === undefined
        // The Bot API took our token (a long poll may then be quiet for its whole timeout): receiving.
        ? api.call("deleteWebhook", {}).pipe(Effect.andThen(life.up), Effect.ignore, Effect.andThen(polling.run))
        : api.call("setWebhook", {
          url: webhookUrl,
          allowed_updates: ALLOWED_UPDATES,
          secret_token: Redacted.value(webhookSecret)
        }).pipe(
          Effect.tap(() => Effect.sync(() => {
            stats.state = "webhook"
            stats.consecutiveFailures = 0
            stats.lastError = null
          }).pipe(Effect.andThen(Metric.update(telegramFailingInARow, 0)), Effect.andThen(life.up))),
          Effect.tapError((e) => Effect.sync(() => {
            stats.state = "failing"
            stats.consecutiveFailures++
            stats.lastError = e.message
          }).pipe(
            Effect.andThen(Metric.update(telegramPollFailures, 1)),
            Effect.andThen(Metric.update(telegramFailingInARow, stats.consecutiveFailures)),
            Effect.andThen(life.failing(e.message))
          )),
          Effect.retry({ schedule: exponentialToMinute })
        )
      if (path !== undefined && webhookSecret !== undefined) {
        yield* serveWebhook({ path, secret: webhookSecret, handle: inbound.handle })
      }

      // Registered before the fibers start, so it runs after they are interrupted.
      yield* Effect.addFinalizer(() => Effect.sync(() => (stats.state = "stopped")))
      yield* startup.pipe(supervised({ name: "telegram start-up" }), Effect.forkScoped)
      // One poller per bot: in a cluster only one daemon receives (a second getUpdates would be a 409).
      // The offset is confirmed by the receiver as it stops (a stop, or the poller moving to another
      // daemon), never by a daemon that does not poll: its getUpdates would end the poller's with a 409.
      yield* (yield* Receivers.orLocal).run(
        "telegram",
        receive.pipe(supervised({ name: "telegram receive", life }), Effect.ensuring(polling.confirm)),
        life
      )
      yield* typingDuringTurns({
        channel: "telegram",
        renew: config.typingEvery,
        send: (source) => {
          const address = parseTarget(source)
          return address === undefined ? Effect.void : api.call("sendChatAction", { ...addressFields(address), action: "typing" }, "4 seconds").pipe(
            Effect.catch((e) => Effect.logDebug(`typing indicator not sent: ${e.message}`)),
            Effect.asVoid
          )
        }
      })
      yield* Effect.logInfo("telegram channel started").pipe(
        Effect.annotateLogs({ mode: stats.mode, allowedChats: config.allowedChatIds.length })
      )

      return TelegramChannel.of({
        stats: Effect.sync(() => ({ ...stats })),
        handleUpdate: inbound.handle
      })
    })
  )

  /** The live channel: TELEGRAM_BOT_TOKEN and TELEGRAM_API_ROOT through grammY's client. */
  static readonly layer = TelegramChannel.layerWithApi.pipe(Layer.provide(TelegramApi.layer))
}
