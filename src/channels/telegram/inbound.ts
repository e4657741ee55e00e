// Inbound: one Telegram update → the gateway. Text goes to Intake (which answers /stop and /status
// itself and queues /new); other kinds get a clear reply; button presses answer questions. Chats
// outside TELEGRAM_ALLOWED_CHAT_IDS are ignored, logged and counted. Replies of our own are
// forked, so an update is done as soon as Intake has it.
import { Cause, Effect, Exit, FiberSet, Metric, Schema } from "effect"
import { StoreFailed } from "../../store/Store.ts"
import type { Router } from "../../core/Router.ts"
import type { Intake } from "../../core/Intake.ts"
import type { Questions } from "../../core/Questions.ts"
import { decodeAnswer } from "./callbackData.ts"
import { telegramDenied, telegramUpdates } from "./metrics.ts"
import type { QuestionButtons } from "./questionButtons.ts"
import type { TelegramKept } from "./durable.ts"
import type { TelegramStats } from "./stats.ts"
import { type ChatAddress, sourceOf } from "./target.ts"
import type { TelegramApi } from "./TelegramApi.ts"
import { type CallbackQuery, InlineKeyboard, type Message, senderOf, unsupportedKind, Update } from "./updates.ts"
import { handOver, type HandOver } from "../handOver.ts"
import { makeRecent } from "../recent.ts"

export interface InboundOptions {
  readonly api: TelegramApi["Service"]
  readonly intake: Intake["Service"]
  readonly router: Router["Service"]
  readonly questions: Questions["Service"]
  readonly buttons: QuestionButtons
  readonly allowedChatIds: ReadonlyArray<string>
  readonly stats: TelegramStats
  /** Where our own replies run, so that handling an update never waits for a send. */
  readonly background: FiberSet.FiberSet<unknown, unknown>
  /** How many recent update ids are remembered to drop a re-delivered update. */
  readonly rememberUpdates?: number
  /** The update ids kept in the store (also across a restart); without it they are in memory only. */
  readonly kept?: Pick<TelegramKept, "seen" | "see"> | undefined
}

const counted = (kind: string) => Metric.update(Metric.withAttributes(telegramUpdates, { kind }), 1)

const addressOf = (message: Message): ChatAddress => ({
  chatId: message.chat.id,
  threadId: message.is_topic_message === true ? message.message_thread_id : undefined
})

const UpdateId = Schema.Struct({ update_id: Schema.Number })

/** The update id of a raw update, even when the rest does not decode (its offset must still advance). */
export const updateIdOf = (raw: unknown): number | undefined => {
  const exit = Schema.decodeUnknownExit(UpdateId)(raw)
  return Exit.isSuccess(exit) ? exit.value.update_id : undefined
}

/** The chat an update belongs to (for per-chat ordering), if any. */
export const chatOf = (raw: unknown): number | undefined => {
  const exit = Schema.decodeUnknownExit(Update)(raw)
  if (Exit.isFailure(exit)) return undefined
  return exit.value.message?.chat.id ?? exit.value.callback_query?.message?.chat.id
}

export const makeInbound = (options: InboundOptions) => {
  const { api, intake, router, questions, buttons, stats } = options
  const allowed = new Set(options.allowedChatIds)
  const remember = options.rememberUpdates ?? 2000
  const seen = makeRecent<number, true>(remember)
  for (const id of options.kept?.seen ?? []) seen.set(id, true)

  const isNew = (updateId: number) => {
    if (seen.has(updateId)) return false
    seen.set(updateId, true)
    return true
  }

  const deny = (chatId: number, what: string) =>
    Effect.gen(function*() {
      stats.denied++
      yield* Metric.update(telegramDenied, 1)
      yield* Effect.logWarning(`ignored a Telegram ${what} from a chat that is not allowed`).pipe(
        Effect.annotateLogs({ chatId })
      )
    })

  /** A reply of our own (not the agent's), in the background. */
  const reply = (source: string, text: string) =>
    FiberSet.run(
      options.background,
      router.deliver(source, { kind: "error", text }).pipe(
        Effect.catchCause((cause) => Effect.logWarning("could not reply in Telegram", cause))
      )
    ).pipe(Effect.asVoid)

  const call = (method: string, payload: Record<string, unknown>) =>
    api.call(method, payload).pipe(
      Effect.catch((e) => Effect.logWarning(`telegram ${e.message}`)),
      Effect.asVoid
    )

  const onMessage = Effect.fnUntraced(function*(updateId: number, message: Message) {
    const address = addressOf(message)
    const source = sourceOf(address)
    yield* Effect.annotateCurrentSpan({ "switchboard.source": source, "switchboard.request_id": `telegram:${updateId}` })
    if (!allowed.has(String(message.chat.id))) return yield* deny(message.chat.id, "message")
    if (message.text === undefined) {
      const kind = unsupportedKind(message)
      if (kind === undefined) return yield* counted("service") // joins, pins, topic edits: nothing to say
      stats.unsupported++
      yield* counted("unsupported")
      return yield* reply(source, `Sorry, I can only read text messages for now; ${kind} are not supported yet.`)
    }
    // In a group, `/stop@other_bot` is for another bot: not a command for us, not a message either.
    const addressee = /^\/[A-Za-z0-9_]+@([A-Za-z0-9_]+)/.exec(message.text)?.[1]
    if (addressee !== undefined && stats.bot !== null && `@${addressee}`.toLowerCase() !== stats.bot.toLowerCase()) {
      return yield* counted("other_bot")
    }
    stats.received++
    const sender = senderOf(message)
    yield* handOver(handing, { id: `telegram:${updateId}`, source, text: message.text, ...(sender !== undefined ? { sender } : {}) })
  })

  const handing: HandOver = {
    intake,
    counted,
    reply,
    // A typed answer closed the question: its buttons would only lead to "no longer open".
    closeButtons: (questionId) => {
      const keyboard = buttons.takeSent(questionId)
      return keyboard === undefined ? Effect.void : call("editMessageReplyMarkup", {
        chat_id: keyboard.chatId,
        message_id: keyboard.messageId,
        reply_markup: { inline_keyboard: [] }
      })
    }
  }

  const toast = (query: CallbackQuery, text?: string) =>
    call("answerCallbackQuery", { callback_query_id: query.id, ...(text !== undefined ? { text } : {}) })

  /** The label of the pressed button, read from the message's own keyboard. */
  const pressedLabel = (query: CallbackQuery): string | undefined => {
    const exit = Schema.decodeUnknownExit(InlineKeyboard)(query.message?.reply_markup)
    if (Exit.isFailure(exit)) return undefined
    return exit.value.inline_keyboard.flat().find((b) => b.callback_data === query.data)?.text
  }

  const onCallback = Effect.fnUntraced(function*(query: CallbackQuery) {
    const message = query.message
    if (message === undefined) return yield* toast(query, "This question is no longer open.")
    const address = addressOf(message)
    const source = sourceOf(address)
    yield* Effect.annotateCurrentSpan({ "switchboard.source": source })
    if (!allowed.has(String(message.chat.id))) return yield* deny(message.chat.id, "button press")
    yield* counted("callback")
    const button = decodeAnswer(query.data)
    const target = button && buttons.resolve(button)
    if (button === undefined || target === undefined) return yield* toast(query, "This question is no longer open.")
    if (target.asked !== undefined && target.asked.source !== source) {
      return yield* toast(query, "That question was asked in another chat.")
    }
    buttons.takeSent(target.questionId) // this press removes the keyboard itself
    const option = target.asked?.options[button.index] ?? pressedLabel(query)
    const removeKeyboard = call("editMessageReplyMarkup", {
      chat_id: message.chat.id,
      message_id: message.message_id,
      reply_markup: { inline_keyboard: [] }
    })
    if (option === undefined) return yield* toast(query, "This question is no longer open.")
    const answered = yield* questions.answer(target.questionId, option)
    if (!answered) {
      yield* toast(query, "This question has already been answered or has expired.")
      return yield* removeKeyboard
    }
    yield* toast(query, `You chose: ${option}`)
    // Show the choice under the question and drop the buttons; keep the question's formatting.
    const shown = yield* api.call("editMessageText", {
      chat_id: message.chat.id,
      message_id: message.message_id,
      text: `${message.text ?? ""}\n\n✅ ${option}`.trim(),
      ...(message.entities !== undefined ? { entities: message.entities } : {}),
      reply_markup: { inline_keyboard: [] }
    }).pipe(Effect.result)
    if (shown._tag === "Failure") yield* removeKeyboard
  })

  /** Handle one raw update. Never fails: bad input is logged and counted. */
  const handle = (raw: unknown): Effect.Effect<void> =>
    Effect.gen(function*() {
      const decoded = Schema.decodeUnknownExit(Update)(raw)
      if (Exit.isFailure(decoded)) {
        stats.invalid++
        yield* counted("invalid")
        return yield* Effect.logWarning("skipped a Telegram update that does not decode").pipe(
          Effect.annotateLogs({ updateId: updateIdOf(raw) ?? "unknown", error: String(decoded.cause) })
        )
      }
      const update = decoded.value
      if (!isNew(update.update_id)) {
        stats.duplicates++
        return yield* counted("duplicate")
      }
      // Seen only once handled: a webhook request cut off mid-way (Telegram re-sends the update)
      // must not make the re-sent copy a "duplicate" of something Intake never got.
      const unsee = Effect.sync(() => seen.delete(update.update_id))
      // Stored once handled (after Intake committed it): a crash in between leaves the id unstored,
      // and the redelivered copy is then recognised by Intake's dedupe instead.
      const kept = options.kept === undefined ? Effect.void : options.kept.see(update.update_id)
      if (update.message !== undefined) {
        return yield* onMessage(update.update_id, update.message).pipe(Effect.onInterrupt(() => unsee), Effect.andThen(kept))
      }
      if (update.callback_query !== undefined) {
        return yield* onCallback(update.callback_query).pipe(Effect.onInterrupt(() => unsee), Effect.andThen(kept))
      }
      yield* counted("other")
      yield* kept
    }).pipe(
      Effect.catchCause((cause) => {
        // The store could not keep it: the update must not count as handed over (its offset stays
        // unconfirmed, Telegram sends it again once the receive loop is restarted).
        const defect = Cause.findDefect(cause)
        if (defect._tag === "Success" && defect.success instanceof StoreFailed) return Effect.failCause(cause)
        return Effect.logError("failed to handle a Telegram update", cause)
      }),
      Effect.withSpan("telegram.update")
    )

  return { handle }
}
