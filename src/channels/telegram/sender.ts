// Outbound: one Outbound → Markdown rendered to Telegram HTML → chunks of ≤ 4096 → sendMessage,
// paced per chat, the chunks of one message kept together. If Telegram rejects the HTML, that
// chunk and every later one go as plain text. A 429 on the first chunk goes back to the Router
// (which waits retry_after and retries the whole message: nothing was sent yet); on a later chunk
// it is waited out here, so the Router never re-sends chunks that already arrived.
import { Clock, Effect, Metric, Semaphore } from "effect"
import { DeliveryFailed } from "../../domain/errors.ts"
import type { Outbound } from "../../domain/model.ts"
import { chunkHtml, htmlToPlain, TELEGRAM_LIMIT } from "./chunk.ts"
import { telegramSends } from "./metrics.ts"
import { chatIntervalMs, isIdle, type PaceState, reserve } from "./pacing.ts"
import type { QuestionButtons } from "./questionButtons.ts"
import { renderMarkdown } from "./render.ts"
import type { TelegramStats } from "./stats.ts"
import { addressFields, type ChatAddress, parseTarget } from "./target.ts"
import { isParseError, isPermanent, type TelegramApi, type TelegramApiError } from "./TelegramApi.ts"

export interface SenderOptions {
  readonly api: TelegramApi["Service"]
  readonly paceIntervalMs: number
  readonly paceBurst: number
  readonly stats: TelegramStats
  readonly buttons: QuestionButtons
  /** TELEGRAM_ALLOWED_CHAT_IDS: the bot writes to these chats only. */
  readonly allowedChatIds: ReadonlyArray<string>
  /** Attempts per chunk after the first one was sent (429 and network errors). */
  readonly chunkAttempts?: number
}

interface ChatLane {
  readonly intervalMs: number
  pace: PaceState | undefined
  readonly lock: Semaphore.Semaphore
  users: number
}

const count = (outcome: string) => Metric.update(Metric.withAttributes(telegramSends, { outcome }), 1)

export const makeSender = (options: SenderOptions) =>
  Effect.gen(function*() {
    const { api, stats } = options
    const chunkAttempts = options.chunkAttempts ?? 4
    const lanes = new Map<number, ChatLane>()
    const allowed = new Set(options.allowedChatIds)

    /** Run `effect` holding the chat's lane: one message at a time per chat, in order. */
    const inLane = <A, E>(chatId: number, effect: (lane: ChatLane) => Effect.Effect<A, E>) =>
      Effect.suspend(() => {
        let lane = lanes.get(chatId)
        if (lane === undefined) {
          lane = { intervalMs: chatIntervalMs(chatId, options.paceIntervalMs), pace: undefined, lock: Semaphore.makeUnsafe(1), users: 0 }
          lanes.set(chatId, lane)
        }
        const held = lane
        held.users++
        return held.lock.withPermit(effect(held)).pipe(
          Effect.ensuring(Clock.currentTimeMillis.pipe(Effect.map((now) => {
            held.users--
            // Forget chats whose bucket is full again, so the map does not grow with every chat ever seen.
            if (held.users === 0 && (held.pace === undefined || isIdle(held.pace, now))) lanes.delete(chatId)
          })))
        )
      })

    const pace = (lane: ChatLane) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const r = reserve(lane.pace, now, lane.intervalMs, options.paceBurst)
        lane.pace = r.state
        if (r.waitMs > 0) yield* Effect.sleep(r.waitMs)
      })

    const failed = (target: string, e: TelegramApiError, permanent: boolean, detail = "") =>
      Effect.gen(function*() {
        if (permanent) {
          stats.permanentFailures++
          stats.lastPermanentFailure = {
            target,
            reason: e.description,
            at: new Date(yield* Clock.currentTimeMillis).toISOString()
          }
          yield* count("permanent")
          yield* Effect.logWarning("telegram refused the message for good; not retrying").pipe(
            Effect.annotateLogs({ target, code: e.code, reason: e.description })
          )
        } else {
          yield* count(e.code === 429 ? "rate_limited" : "failed")
        }
        return yield* new DeliveryFailed({
          target,
          reason: `${e.code === 0 ? "" : `${e.code} `}${e.description}${detail}`,
          permanent,
          ...(e.retryAfter !== undefined ? { retryAfterMs: e.retryAfter * 1000 } : {})
        })
      })

    const sendAll = (
      target: string,
      address: ChatAddress,
      lane: ChatLane,
      chunks: ReadonlyArray<string>,
      markup: unknown,
      questionId: string | undefined
    ) =>
      Effect.gen(function*() {
        let plain = false
        for (let i = 0; i < chunks.length; i++) {
          const last = i === chunks.length - 1
          let attempt = 0
          while (true) {
            yield* pace(lane)
            const payload = {
              ...addressFields(address),
              text: plain ? htmlToPlain(chunks[i]!) : chunks[i]!,
              ...(plain ? {} : { parse_mode: "HTML" }),
              ...(last && markup !== undefined ? { reply_markup: markup } : {})
            }
            const result = yield* api.call("sendMessage", payload).pipe(Effect.result)
            if (result._tag === "Success") {
              if (last && questionId !== undefined) {
                const messageId = (result.success as { readonly message_id?: unknown } | null)?.message_id
                if (typeof messageId === "number") options.buttons.sent(questionId, { chatId: address.chatId, messageId })
              }
              stats.sent++
              yield* count(plain ? "sent_plain" : "sent")
              break
            }
            const e = result.failure
            if (!plain && isParseError(e)) {
              // Once Telegram rejects our HTML, the rest of this message goes as plain text too.
              plain = true
              stats.plainFallbacks++
              yield* count("plain_fallback")
              yield* Effect.logWarning("telegram rejected the HTML; sending plain text").pipe(
                Effect.annotateLogs({ target, reason: e.description })
              )
              continue
            }
            if (isPermanent(e) || (e.code >= 400 && e.code < 500 && e.code !== 429)) {
              return yield* failed(target, e, true, i > 0 ? ` (after ${i} of ${chunks.length} parts)` : "")
            }
            if (e.code === 429) stats.rateLimited++
            attempt++
            if (i === 0) return yield* failed(target, e, false)
            if (attempt >= chunkAttempts) {
              // Part of the message arrived: a Router retry would repeat it, so this is final.
              return yield* failed(target, e, true, ` (after ${i} of ${chunks.length} parts)`)
            }
            const waitMs = e.retryAfter !== undefined ? e.retryAfter * 1000 : 500 * 2 ** attempt
            yield* Effect.logInfo(`telegram send to ${target} failed (${e.message}); part ${i + 1} again in ${waitMs} ms`)
            yield* Effect.sleep(waitMs)
          }
        }
      })

    const send = Effect.fn("telegram.send")(function*(target: string, outbound: Outbound) {
      const address = parseTarget(target)
      if (address === undefined) {
        return yield* new DeliveryFailed({ target, reason: "not a Telegram chat", permanent: true })
      }
      // Default deny both ways: a model (or text fed to it) must not make the bot write to a chat
      // that the owner has not allowed, whatever path the message took (notify, relay, digest).
      if (!allowed.has(String(address.chatId))) {
        yield* count("refused_not_allowed")
        return yield* new DeliveryFailed({
          target,
          reason: "chat is not in TELEGRAM_ALLOWED_CHAT_IDS",
          permanent: true
        })
      }
      const chunks = chunkHtml(renderMarkdown(outbound.text), TELEGRAM_LIMIT)
      yield* Effect.annotateCurrentSpan({
        "switchboard.target": target,
        "telegram.chunks": chunks.length,
        ...(outbound.requestId !== undefined ? { "switchboard.request_id": outbound.requestId } : {})
      })
      const question = outbound.question
      const markup = question === undefined || question.options.length === 0
        ? undefined
        : options.buttons.keyboard({ questionId: question.id, source: target, options: question.options })
      if (chunks.length === 0) {
        if (markup === undefined) return
        chunks.push("Choose one:")
      }
      yield* inLane(address.chatId, (lane) =>
        sendAll(target, address, lane, chunks, markup, markup === undefined ? undefined : question?.id))
    })

    return { send }
  })
