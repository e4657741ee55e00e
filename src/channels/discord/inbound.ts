// Inbound: gateway events → the gateway's Intake, one at a time in the order Discord sent them.
// A message passes the allowlist (policy.ts), then dedupe by message id (a resume may replay, a
// catch-up may overlap), then goes to Intake (which answers /stop and /status itself). When a
// session was lost rather than resumed, Discord does not replay what it missed: the channel then
// fetches the newer messages of the channels it serves over REST, so nothing sent during the gap
// is lost, and dedupe makes sure nothing is answered twice.
import { Clock, Effect, Exit, FiberSet, Metric, Schema } from "effect"
import type { ChannelLifeHandle } from "../../core/Channels.ts"
import type { Intake } from "../../core/Intake.ts"
import type { Router } from "../../core/Router.ts"
import type { DiscordApi, GatewayEvent } from "./DiscordApi.ts"
import { answeredRows } from "./buttons.ts"
import { Message, Ready, senderOf } from "./events.ts"
import { discordDenied, discordDisconnects, discordEvents, discordGatewayUp } from "./metrics.ts"
import { addressOf, type Places } from "./places.ts"
import { decide } from "./policy.ts"
import type { DiscordState } from "./state.ts"
import { sourceOf } from "./target.ts"
import { handOver, type HandOver } from "../handOver.ts"

export const counted = (kind: string) => Metric.update(Metric.withAttributes(discordEvents, { kind }), 1)

/** Messages fetched per channel when catching up after a lost session (Discord's page size). */
export const CATCH_UP_LIMIT = 100

const DISCORD_EPOCH = 1_420_070_400_000n

/** The smallest snowflake of a moment: "every message after this time". */
export const snowflakeAt = (ms: number): string => String((BigInt(Math.max(0, Math.floor(ms))) - DISCORD_EPOCH) << 22n)

const newer = (a: string, b: string | undefined) => b === undefined || BigInt(a) > BigInt(b)

export interface InboundOptions {
  readonly api: DiscordApi["Service"]
  /** The channel's entry in /status: up while a session is, failing while it is not. */
  readonly life: ChannelLifeHandle
  readonly intake: Intake["Service"]
  readonly router: Router["Service"]
  readonly state: DiscordState
  readonly places: Places
  /** Our own replies run here, so handling an event never waits for a send. */
  readonly background: FiberSet.FiberSet<unknown, unknown>
  /** Slash commands and button presses (interactions.ts). */
  readonly onInteraction: (raw: unknown) => Effect.Effect<void>
  /** The first session is up (register the slash commands). */
  readonly onFirstReady: Effect.Effect<void>
}

export const makeInbound = (options: InboundOptions) => {
  const { api, intake, router, state, places } = options
  const stats = state.stats
  const decodeMessage = Schema.decodeUnknownExit(Message)
  /** When the last session went down: catch-up looks for messages after it. */
  const outage = { since: undefined as number | undefined }

  const reply = (source: string, text: string) =>
    FiberSet.run(
      options.background,
      router.deliver(source, { kind: "error", text }).pipe(Effect.catchCause((cause) => Effect.logWarning("could not reply in Discord", cause)))
    ).pipe(Effect.asVoid)

  const onMessage = Effect.fnUntraced(function*(message: Message, caughtUp: boolean) {
    const me = state.me
    if (state.seen.has(message.id)) {
      stats.duplicates++
      return yield* counted("duplicate")
    }
    state.seen.set(message.id, true)
    const place = yield* places.place(message.channel_id, message.guild_id !== undefined)
    const source = sourceOf(addressOf(place))
    yield* Effect.annotateCurrentSpan({ "switchboard.source": source, "switchboard.request_id": `discord:${message.id}` })
    if (newer(message.id, state.lastSeen.get(message.channel_id))) state.lastSeen.set(message.channel_id, message.id)
    const decision = decide(message, place, me?.id, state.lists)
    if (decision._tag === "Ignore") {
      stats.ignored++
      return yield* counted(decision.reason)
    }
    if (decision._tag === "Deny") {
      stats.denied++
      yield* Metric.update(discordDenied, 1)
      return yield* Effect.logWarning("ignored a Discord message from a channel and user that are not allowed").pipe(
        Effect.annotateLogs({ channelId: message.channel_id, userId: message.author.id })
      )
    }
    if (caughtUp) stats.caughtUp++
    // The bot may answer where an allowed user spoke to it, also outside the allowed channels.
    state.conversations.set(source, true)
    const requestId = `discord:${message.id}`
    state.authors.set(requestId, { userId: message.author.id, channelId: message.channel_id, messageId: message.id })
    if (decision.text === "") {
      if ((message.attachments ?? []).length > 0 || (message.sticker_items ?? []).length > 0) {
        stats.unsupported++
        yield* counted("unsupported")
        return yield* reply(source, "Sorry, I can only read text messages for now; attachments and stickers are not supported yet.")
      }
      if (!state.warnedEmpty) {
        state.warnedEmpty = true
        yield* Effect.logWarning(
          "a Discord message arrived without text: enable the Message Content Intent for the bot in the Developer Portal (Bot → Privileged Gateway Intents)"
        )
      }
      return yield* counted("empty")
    }
    stats.received++
    yield* handOver(handing, { id: requestId, source, text: decision.text, sender: senderOf(message.author) }, caughtUp ? "caught_up" : "text")
  })

  const handing: HandOver = {
    intake,
    counted,
    reply,
    // A typed answer closed the question: its buttons would only lead to "no longer open".
    closeButtons: (questionId) => {
      const asked = state.questions.take(questionId)
      return asked?.messageId === undefined ? Effect.void : api.editMessage(asked.channelId, asked.messageId, { components: answeredRows(asked.rows, undefined) }).pipe(
        Effect.catch((e) => Effect.logWarning(`could not disable the buttons of an answered question: ${e.message}`)),
        Effect.asVoid
      )
    }
  }

  const handleMessage = (raw: unknown, caughtUp: boolean) =>
    Effect.gen(function*() {
      const decoded = decodeMessage(raw)
      if (Exit.isFailure(decoded)) {
        stats.invalid++
        yield* counted("invalid")
        return yield* Effect.logWarning("skipped a Discord message that does not decode").pipe(Effect.annotateLogs({ error: String(decoded.cause) }))
      }
      const id = decoded.value.id
      yield* onMessage(decoded.value, caughtUp).pipe(Effect.onInterrupt(() => Effect.sync(() => state.seen.delete(id))))
    }).pipe(
      Effect.catchCause((cause) => Effect.logError("failed to handle a Discord message", cause)),
      Effect.withSpan("discord.message")
    )

  /** After a lost session: the messages Discord will not replay, oldest first. */
  const catchUp = Effect.gen(function*() {
    const since = outage.since
    if (since === undefined) return
    const channels = new Set([...state.lists.channels, ...state.lastSeen.keys()])
    let found = 0
    for (const channelId of channels) {
      // A minute before the outage too: dedupe drops what was already handled.
      const after = state.lastSeen.get(channelId) ?? snowflakeAt(since - 60_000)
      const page = yield* api.messagesAfter(channelId, after, CATCH_UP_LIMIT).pipe(
        Effect.catch((e) => Effect.as(Effect.logWarning(`could not catch up on Discord channel ${channelId}: ${e.message}`), []))
      )
      const messages = page.flatMap((raw) => {
        const exit = decodeMessage(raw)
        return Exit.isSuccess(exit) ? [exit.value] : []
      }).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1))
      for (const m of messages) {
        if (!state.seen.has(m.id)) found++
        yield* handleMessage(m, true)
      }
    }
    yield* Effect.logInfo(`discord: caught up after a lost session: ${found} message(s) were sent during the gap`)
  })

  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms).toISOString())

  const onEvent = (event: GatewayEvent): Effect.Effect<void> =>
    Effect.gen(function*() {
      switch (event._tag) {
        case "Connected": {
          if (event.resumed) stats.resumes++
          stats.state = "ready"
          stats.connectedAt = yield* now
          stats.disconnectedSince = null
          yield* Metric.update(discordGatewayUp, 1)
          yield* options.life.up
          if (event.resumed && outage.since !== undefined) {
            yield* Effect.logInfo("discord gateway resumed")
            outage.since = undefined
          }
          return
        }
        case "Closed": {
          stats.disconnects++
          stats.lastCloseCode = event.code
          if (stats.disconnectedSince === null) stats.disconnectedSince = yield* now
          outage.since ??= yield* Clock.currentTimeMillis
          stats.state = event.fatal !== undefined ? "failed" : "disconnected"
          if (event.fatal !== undefined) stats.fatal = event.fatal
          yield* Metric.update(discordDisconnects, 1)
          yield* Metric.update(discordGatewayUp, 0)
          yield* options.life.failing(event.fatal ?? `gateway disconnected (close code ${event.code}); reconnecting`)
          return yield* (event.fatal !== undefined
            ? Effect.logError(`discord gateway closed for good (${event.code}): ${event.fatal}`)
            : Effect.logWarning(`discord gateway disconnected (close code ${event.code}); reconnecting`))
        }
        case "Dropped": {
          stats.dropped += event.count
          return yield* Effect.logError(`discord: ${event.count} gateway event(s) dropped: the channel could not keep up`)
        }
        case "Dispatch":
          break
      }
      if (event.t === "MESSAGE_CREATE") return yield* handleMessage(event.d, false)
      if (event.t === "INTERACTION_CREATE") return yield* options.onInteraction(event.d)
      if (event.t === "READY") {
        const ready = yield* Schema.decodeUnknownEffect(Ready)(event.d).pipe(Effect.option)
        if (ready._tag === "None") return yield* Effect.logWarning("discord READY did not decode")
        const first = state.me === undefined
        state.me = { id: ready.value.user.id, applicationId: ready.value.application?.id }
        stats.bot = `@${ready.value.user.username ?? ready.value.user.id}`
        stats.applicationId = ready.value.application?.id ?? null
        stats.sessions++
        if (first) return yield* options.onFirstReady
        // A new session, not a resume: what was sent meanwhile is not replayed by Discord.
        yield* catchUp
        outage.since = undefined
      }
    }).pipe(Effect.catchCause((cause) => Effect.logError("failed to handle a Discord gateway event", cause)))

  return { onEvent, handleMessage }
}
