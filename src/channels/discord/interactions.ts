// Interactions: the slash commands /stop, /status, /new, and presses of a question's buttons.
// Discord wants an answer to each within 3 s. /stop and /status are answered by Intake at once and
// shown as the command's response; /new is queued, so its response is "thinking…" until the
// Dispatcher's answer replaces it. A press answers the question, disables the buttons and shows
// the choice; a press by someone else than the asker, or on a question no longer open, gets a
// notice only the presser sees (and stale buttons are disabled).
import { Effect, Exit, Metric, Schema } from "effect"
import type { Intake } from "../../core/Intake.ts"
import type { Questions } from "../../core/Questions.ts"
import { answeredRows, decodeAnswer } from "./buttons.ts"
import { chunkMarkdown } from "./chunk.ts"
import type { DiscordApi, MessageBody } from "./DiscordApi.ts"
import { APPLICATION_COMMAND, Interaction, interactionUser, MESSAGE_COMPONENT, senderOf } from "./events.ts"
import { counted } from "./inbound.ts"
import { discordDenied } from "./metrics.ts"
import { addressOf, type Places } from "./places.ts"
import { mayInteract } from "./policy.ts"
import { renderMarkdown } from "./render.ts"
import { NO_PINGS } from "./sender.ts"
import type { DiscordState } from "./state.ts"
import { sourceOf } from "./target.ts"

export const SLASH_COMMANDS = [
  { name: "new", description: "Start a fresh conversation" },
  { name: "stop", description: "Stop what I am working on for this channel" },
  { name: "status", description: "Show the gateway's state" }
] as const

const EPHEMERAL = 64

export interface InteractionOptions {
  readonly api: DiscordApi["Service"]
  readonly intake: Intake["Service"]
  readonly questions: Questions["Service"]
  readonly state: DiscordState
  readonly places: Places
}

export const makeInteractions = (options: InteractionOptions) => {
  const { api, intake, questions, state, places } = options
  const stats = state.stats
  const decode = Schema.decodeUnknownExit(Interaction)

  const notice = (i: Interaction, content: string) =>
    api.reply(i.id, i.token, { content, flags: EPHEMERAL, allowed_mentions: NO_PINGS }).pipe(
      Effect.catch((e) => Effect.logWarning(`could not answer a Discord interaction: ${e.message}`))
    )

  const placeOf = (i: Interaction) => {
    if (i.channel !== undefined) places.learn(i.channel)
    return places.place(i.channel?.id ?? i.channel_id ?? "", i.guild_id !== undefined)
  }

  const onCommand = Effect.fnUntraced(function*(i: Interaction, userId: string) {
    const name = i.data?.name ?? ""
    if (!SLASH_COMMANDS.some((c) => c.name === name)) return yield* notice(i, `Unknown command /${name}.`)
    const place = yield* placeOf(i)
    const source = sourceOf(addressOf(place))
    if (!mayInteract(userId, place, state.lists)) {
      stats.denied++
      yield* Metric.update(discordDenied, 1)
      return yield* notice(i, "You are not allowed to use this bot here.")
    }
    yield* counted("command")
    const requestId = `discord:${i.id}`
    const user = interactionUser(i)
    const queued = name === "new"
    // Registered before Intake sees it: its answer may reach the sender before we respond.
    state.interactions.set(requestId, { mode: queued ? "deferred" : "inline", applicationId: i.application_id, token: i.token })
    if (queued) yield* api.defer(i.id, i.token).pipe(Effect.catch((e) => Effect.logWarning(`could not defer /${name}: ${e.message}`)))
    const result = yield* intake.submit({
      id: requestId,
      source,
      text: `/${name}`,
      ...(user !== undefined ? { sender: senderOf(user) } : {})
    }).pipe(Effect.result)
    const answer = (content: string): Effect.Effect<void> => {
      const body: MessageBody = { content: chunkMarkdown(renderMarkdown(content))[0] ?? "Done.", allowed_mentions: NO_PINGS }
      return (queued ? api.editReply(i.application_id, i.token, body) : api.reply(i.id, i.token, body)).pipe(
        Effect.catch((e) => Effect.logWarning(`could not answer /${name}: ${e.message}`))
      )
    }
    if (result._tag === "Failure") {
      state.interactions.delete(requestId)
      return yield* answer(`I can't take that right now: ${result.failure.message}.`)
    }
    if (result.success._tag === "Duplicate") {
      state.interactions.delete(requestId)
      return yield* answer("Already received.")
    }
    if (result.success._tag === "Answered") yield* answer(result.success.reply)
  })

  /** The buttons of a question nobody can answer any more: disabled, so nobody tries again. */
  const disable = (i: Interaction) =>
    Effect.gen(function*() {
      const message = i.message
      const channelId = i.channel?.id ?? i.channel_id
      if (message === undefined || channelId === undefined) return
      const rows = Schema.decodeUnknownExit(Schema.Array(RowShape))(message.components ?? [])
      if (Exit.isFailure(rows) || rows.value.length === 0) return
      yield* api.editMessage(channelId, message.id, { components: answeredRows(rows.value, undefined) }).pipe(Effect.ignore)
    })

  const onPress = Effect.fnUntraced(function*(i: Interaction, userId: string) {
    const button = decodeAnswer(i.data?.custom_id ?? "")
    const place = yield* placeOf(i)
    const source = sourceOf(addressOf(place))
    yield* Effect.annotateCurrentSpan({ "switchboard.source": source })
    if (!mayInteract(userId, place, state.lists)) {
      stats.denied++
      yield* Metric.update(discordDenied, 1)
      return yield* notice(i, "You are not allowed to use this bot here.")
    }
    yield* counted("button")
    const asked = button === undefined ? undefined : state.questions.get(button.questionId)
    const option = button === undefined ? undefined : asked?.options[button.index]
    if (button === undefined || asked === undefined || option === undefined || asked.source !== source) {
      yield* notice(i, "This question is no longer open.")
      return yield* disable(i)
    }
    if (asked.askerId !== undefined && asked.askerId !== userId) {
      return yield* notice(i, `This question is for <@${asked.askerId}>; only they can answer it.`)
    }
    if (!(yield* questions.answer(button.questionId, option))) {
      state.questions.delete(button.questionId)
      yield* notice(i, "This question has already been answered or has expired.")
      return yield* disable(i)
    }
    state.questions.delete(button.questionId)
    const shown = place.dm ? `✅ ${option}` : `✅ ${option} (<@${userId}>)`
    yield* api.updateMessage(i.id, i.token, {
      content: `${i.message?.content ?? asked.content ?? ""}\n\n${shown}`.trim().slice(0, 2000),
      components: answeredRows(asked.rows, button.index),
      allowed_mentions: NO_PINGS
    }).pipe(Effect.catch((e) => Effect.logWarning(`could not show the chosen answer: ${e.message}`)))
  })

  /** Handle one raw INTERACTION_CREATE. Never fails: bad input is logged and counted. */
  const handle = (raw: unknown): Effect.Effect<void> =>
    Effect.gen(function*() {
      const decoded = decode(raw)
      if (Exit.isFailure(decoded)) {
        stats.invalid++
        yield* counted("invalid")
        return yield* Effect.logWarning("skipped a Discord interaction that does not decode").pipe(Effect.annotateLogs({ error: String(decoded.cause) }))
      }
      const i = decoded.value
      const user = interactionUser(i)
      if (user === undefined) return yield* counted("invalid")
      if (state.seen.has(i.id)) return yield* counted("duplicate")
      state.seen.set(i.id, true)
      if (i.type === APPLICATION_COMMAND) return yield* onCommand(i, user.id)
      if (i.type === MESSAGE_COMPONENT) return yield* onPress(i, user.id)
      yield* counted("other")
    }).pipe(
      Effect.catchCause((cause) => Effect.logError("failed to handle a Discord interaction", cause)),
      Effect.withSpan("discord.interaction")
    )

  return { handle }
}

const RowShape = Schema.Struct({
  type: Schema.Literal(1),
  components: Schema.Array(Schema.Struct({
    type: Schema.Literal(2),
    style: Schema.Number,
    label: Schema.String,
    custom_id: Schema.String
  }))
})
