// Inbound: one Slack envelope → the gateway. A person's message goes to Intake (which answers
// /stop and /status itself and queues /new); a button press answers its question. Bot messages
// (ours included), edits, joins and other subtypes are ignored; conversations and people outside
// the allowlists are ignored, logged and counted. Calls of our own (replies, ephemeral notices,
// message updates) are forked, so an envelope is done — and acknowledged — as soon as Intake has it.
import { Effect, Exit, FiberSet, Metric, Schema } from "effect"
import type { Intake } from "../../core/Intake.ts"
import type { Questions } from "../../core/Questions.ts"
import type { Router } from "../../core/Router.ts"
import type { Allowlist } from "./allowlist.ts"
import { BlockActions, Envelope, EventCallback, MessageEvent, PERSON_SUBTYPES, SlashCommand } from "./envelopes.ts"
import { incomingText } from "./incoming.ts"
import { slackEnvelopes } from "./metrics.ts"
import { ACTION_PREFIX, decodeValue, type QuestionButtons, section, withoutButtons } from "./questionButtons.ts"
import { escapeMrkdwn } from "./render.ts"
import type { SlackApi } from "./SlackApi.ts"
import type { SlackStats } from "./stats.ts"
import { isTs, sourceOf } from "./target.ts"
import { handOver } from "../handOver.ts"
import { makeRecent } from "../recent.ts"

export interface BotIdentity {
  userId: string | undefined
  botId: string | undefined
}

export interface Requesters {
  readonly remember: (requestId: string, user: string) => void
  readonly get: (requestId: string | undefined) => string | undefined
}

export interface InboundOptions {
  readonly api: SlackApi["Service"]
  readonly intake: Intake["Service"]
  readonly router: Router["Service"]
  readonly questions: Questions["Service"]
  readonly buttons: QuestionButtons
  readonly allowlist: Allowlist
  readonly stats: SlackStats
  readonly bot: BotIdentity
  readonly requesters: Requesters
  /** Where our own calls run, so that handling an envelope never waits for one. */
  readonly background: FiberSet.FiberSet<unknown, unknown>
  /** How many recent button presses are remembered to drop a re-delivered one. */
  readonly rememberPresses?: number
}

/** A bounded map of request id → the Slack user who sent it (the person a question is for). */
export const makeRequesters = (capacity = 1000): Requesters => {
  const users = makeRecent<string, string>(capacity)
  return {
    remember: (requestId, user) => users.set(requestId, user),
    get: (requestId) => (requestId === undefined ? undefined : users.get(requestId))
  }
}

/** The slash commands the app may register (README: Slack); others are ignored. */
export const SLASH_COMMANDS: ReadonlyArray<string> = ["/new", "/stop", "/status"]

const counted = (kind: string) => Metric.update(Metric.withAttributes(slackEnvelopes, { kind }), 1)

const decode = <S extends Schema.Constraint & { readonly DecodingServices: never }>(schema: S, raw: unknown) => {
  const exit = Schema.decodeUnknownExit(schema)(raw)
  return Exit.isSuccess(exit) ? exit.value : undefined
}

export const makeInbound = (options: InboundOptions) => {
  const { api, intake, router, questions, buttons, stats, allowlist } = options
  const remember = options.rememberPresses ?? 1000
  const presses = makeRecent<string, true>(remember)

  const background = <A, E>(what: string, effect: Effect.Effect<A, E>) =>
    FiberSet.run(options.background, effect.pipe(
      Effect.catchCause((cause) => Effect.logWarning(`could not ${what} in Slack`, cause))
    )).pipe(Effect.asVoid)

  /** A reply of our own (not the agent's). */
  const reply = (source: string, text: string) => background("reply", router.deliver(source, { kind: "error", text }))

  const ephemeral = (channel: string, user: string, text: string, threadTs?: string) =>
    background("post an ephemeral notice", api.call("chat.postEphemeral", {
      channel,
      user,
      text,
      ...(threadTs !== undefined ? { thread_ts: threadTs } : {})
    }))

  const deny = (channel: string, user: string | undefined, what: string) =>
    Effect.gen(function*() {
      stats.denied++
      yield* counted("denied")
      yield* Effect.logWarning(`ignored a Slack ${what} from a conversation or person that is not allowed`).pipe(
        Effect.annotateLogs({ channel, user: user ?? "unknown" })
      )
    })

  /** Replace a question's buttons by a line saying how it ended. */
  const closeQuestion = (channel: string, ts: string, text: string, note: string, blocks?: ReadonlyArray<unknown>) =>
    background("update a question", api.call("chat.update", {
      channel,
      ts,
      text: `${text}\n${note}`,
      blocks: withoutButtons(blocks ?? [section(text)], note)
    }))

  const onMessage = Effect.fnUntraced(function*(event: MessageEvent, retryAttempt: number) {
    const thread = event.thread_ts !== undefined && event.thread_ts !== event.ts && isTs(event.thread_ts) ? event.thread_ts : undefined
    const source = sourceOf({ channel: event.channel, threadTs: thread })
    const id = `slack:${event.channel}:${event.ts}`
    yield* Effect.annotateCurrentSpan({ "switchboard.source": source, "switchboard.request_id": id, "slack.retry_attempt": retryAttempt })
    // Bots (this one's own posts included) and edits, joins, topic changes: nothing for the agent.
    const own = event.user !== undefined && event.user === options.bot.userId
    if (event.bot_id !== undefined || own || event.user === undefined || !PERSON_SUBTYPES.includes(event.subtype)) {
      stats.ignored++
      return yield* counted("ignored")
    }
    if (!allowlist.inbound(event.channel, event.user)) return yield* deny(event.channel, event.user, "message")
    const text = incomingText(event.text ?? "", options.bot.userId)
    if (text === "") {
      if (event.files === undefined || event.files.length === 0) return yield* counted("empty")
      stats.unsupported++
      yield* counted("unsupported")
      return yield* reply(source, "Sorry, I can only read text messages for now; files are not supported yet.")
    }
    stats.received++
    options.requesters.remember(id, event.user)
    const outcome = yield* handOver({
      intake,
      counted,
      reply,
      // A typed answer closed the question: its buttons would only lead to "no longer open".
      closeButtons: (questionId) => {
        const posted = buttons.takeSent(questionId)
        return posted === undefined ? Effect.void : closeQuestion(posted.channel, posted.ts, posted.text, `✅ ${escapeMrkdwn(text)}`)
      }
    }, { id, source, text, sender: `<@${event.user}>` })
    if (outcome === "duplicate") stats.duplicates++
  })

  /** `/stop`, `/status`, `/new` as the app's slash commands: the same as typing them in the channel. */
  const onSlash = Effect.fnUntraced(function*(command: SlashCommand, envelopeId: string) {
    const source = sourceOf({ channel: command.channel_id, threadTs: undefined })
    const id = `slack:${command.channel_id}:command:${envelopeId}`
    yield* Effect.annotateCurrentSpan({ "switchboard.source": source, "switchboard.request_id": id })
    if (!SLASH_COMMANDS.includes(command.command)) return yield* counted("ignored")
    if (!allowlist.inbound(command.channel_id, command.user_id)) {
      return yield* deny(command.channel_id, command.user_id, "slash command")
    }
    stats.received++
    options.requesters.remember(id, command.user_id)
    const outcome = yield* handOver(
      { intake, counted, reply, closeButtons: () => Effect.void },
      { id, source, text: command.command, sender: `<@${command.user_id}>` },
      "command"
    )
    if (outcome === "duplicate") stats.duplicates++
  })

  const onPress = Effect.fnUntraced(function*(press: BlockActions) {
    const action = press.actions.find((a) => a.action_id.startsWith(ACTION_PREFIX))
    if (action === undefined) return yield* counted("ignored") // not one of our buttons
    const channel = press.channel?.id ?? press.container?.channel_id
    const message = press.message
    if (channel === undefined || message === undefined) return yield* counted("invalid")
    const user = press.user.id
    const threadTs = message.thread_ts ?? press.container?.thread_ts
    const key = `${channel}:${message.ts}:${action.action_ts ?? ""}:${user}`
    if (presses.has(key)) {
      stats.duplicates++
      return yield* counted("duplicate")
    }
    presses.set(key, true)
    stats.presses++
    yield* counted("press")
    const notice = (text: string) => ephemeral(channel, user, text, threadTs)
    const button = decodeValue(action.value)
    const asked = button === undefined ? undefined : buttons.resolve(button.questionId)
    const questionText = message.text ?? ""
    if (button === undefined || asked === undefined) {
      yield* notice("This question is no longer open.")
      return yield* closeQuestion(channel, message.ts, questionText, "_This question is no longer open._", message.blocks)
    }
    yield* Effect.annotateCurrentSpan({ "switchboard.source": asked.source, "switchboard.question_id": asked.questionId })
    if (!asked.source.startsWith(`slack:${channel}`)) return yield* notice("That question was asked in another conversation.")
    if (!allowlist.inbound(channel, user) || (asked.askedBy !== undefined && asked.askedBy !== user)) {
      return yield* notice(asked.askedBy !== undefined ? `This question is for <@${asked.askedBy}>.` : "You cannot answer this question.")
    }
    const option = asked.options[button.index]
    if (option === undefined) return yield* notice("That is not one of the options.")
    buttons.takeSent(asked.questionId) // this press removes the buttons itself
    if (!(yield* questions.answer(asked.questionId, option))) {
      yield* notice("This question has already been answered or has expired.")
      return yield* closeQuestion(channel, message.ts, questionText, "_This question is no longer open._", message.blocks)
    }
    yield* closeQuestion(channel, message.ts, questionText, `✅ *${escapeMrkdwn(option)}* (<@${user}>)`, message.blocks)
  })

  /** An Events API payload (`event_callback`), from Socket Mode or HTTP. Never fails. */
  const handleEvent = (payload: unknown, retryAttempt = 0): Effect.Effect<void> =>
    Effect.gen(function*() {
      const callback = decode(EventCallback, payload)
      if (callback === undefined) return yield* invalid("event", payload)
      if (callback.event.type !== "message" && callback.event.type !== "app_mention") return yield* counted("other")
      // Decoding keeps only the fields a schema names: read the event from the raw payload.
      const event = decode(MessageEvent, (payload as { readonly event?: unknown }).event)
      if (event === undefined) return yield* invalid("message event", payload)
      yield* onMessage(event, retryAttempt)
    }).pipe(
      Effect.catchCause((cause) => Effect.logError("failed to handle a Slack event", cause)),
      Effect.withSpan("slack.event")
    )

  /** An interactive payload (a button press), from Socket Mode or HTTP. Never fails. */
  const handleInteractive = (payload: unknown): Effect.Effect<void> =>
    Effect.gen(function*() {
      const type = (payload as { type?: unknown } | null)?.type
      if (type !== "block_actions") return yield* counted("other")
      const press = decode(BlockActions, payload)
      if (press === undefined) return yield* invalid("button press", payload)
      yield* onPress(press)
    }).pipe(
      Effect.catchCause((cause) => Effect.logError("failed to handle a Slack button press", cause)),
      Effect.withSpan("slack.interactive")
    )

  const invalid = (what: string, payload: unknown) =>
    Effect.gen(function*() {
      stats.invalid++
      yield* counted("invalid")
      yield* Effect.logWarning(`skipped a Slack ${what} that does not decode`).pipe(
        Effect.annotateLogs({ type: String((payload as { type?: unknown } | null)?.type ?? "unknown") })
      )
    })

  /** One Socket Mode envelope. Never fails; when it returns, the envelope may be acknowledged. */
  const handleEnvelope = (raw: unknown): Effect.Effect<void> =>
    Effect.suspend(() => {
      const envelope = decode(Envelope, raw)
      if (envelope === undefined) return invalid("envelope", raw)
      switch (envelope.type) {
        case "events_api":
          return handleEvent(envelope.payload, envelope.retry_attempt ?? 0)
        case "interactive":
          return handleInteractive(envelope.payload)
        case "slash_commands": {
          const command = decode(SlashCommand, envelope.payload)
          if (command === undefined) return invalid("slash command", envelope.payload)
          return onSlash(command, envelope.envelope_id).pipe(
            Effect.catchCause((cause) => Effect.logError("failed to handle a Slack slash command", cause)),
            Effect.withSpan("slack.command")
          )
        }
        default:
          return counted("other")
      }
    })

  return { handleEnvelope, handleEvent, handleInteractive }
}
