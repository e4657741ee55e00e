// Outbound: one Outbound → Markdown rendered to mrkdwn → messages of ≤ 3,000 characters →
// chat.postMessage, in order per conversation (the chunks of one message kept together), replies
// to a thread in that thread. `ask` puts its buttons on the last message. A 429 on the first chunk
// goes back to the Router (which waits Retry-After and retries the whole message: nothing was
// posted yet); on a later chunk it is waited out here, so the Router never re-posts chunks that
// already arrived. Errors Slack will repeat (channel_not_found, not_in_channel, …) are final.
import { Clock, Effect, Metric, Semaphore } from "effect"
import { DeliveryFailed } from "../../domain/errors.ts"
import type { Outbound } from "../../domain/model.ts"
import type { Allowlist } from "./allowlist.ts"
import { chunkMrkdwn, SLACK_LIMIT } from "./chunk.ts"
import { slackSends } from "./metrics.ts"
import { questionBlocks, type QuestionButtons } from "./questionButtons.ts"
import { renderMrkdwn } from "./render.ts"
import { isTemporary, type SlackApi, type SlackApiError } from "./SlackApi.ts"
import type { SlackStats } from "./stats.ts"
import { addressFields, parseTarget, type SlackAddress } from "./target.ts"

export interface SenderOptions {
  readonly api: SlackApi["Service"]
  readonly stats: SlackStats
  readonly buttons: QuestionButtons
  readonly allowlist: Allowlist
  /** The Slack user whose message started request `id`, if known (the person a question is for). */
  readonly requester: (requestId: string | undefined) => string | undefined
  /** Attempts per chunk after the first one was posted (429 and network errors). */
  readonly chunkAttempts?: number
}

const count = (outcome: string) => Metric.update(Metric.withAttributes(slackSends, { outcome }), 1)

export const makeSender = (options: SenderOptions) =>
  Effect.gen(function*() {
    const { api, stats } = options
    const chunkAttempts = options.chunkAttempts ?? 4
    const lanes = new Map<string, { readonly lock: Semaphore.Semaphore; users: number }>()

    /** One message at a time per conversation, in order; idle conversations are forgotten. */
    const inLane = <A, E>(channel: string, effect: Effect.Effect<A, E>) =>
      Effect.suspend(() => {
        const lane = lanes.get(channel) ?? { lock: Semaphore.makeUnsafe(1), users: 0 }
        lanes.set(channel, lane)
        lane.users++
        return lane.lock.withPermit(effect).pipe(Effect.ensuring(Effect.sync(() => {
          if (--lane.users === 0) lanes.delete(channel)
        })))
      })

    const failed = (target: string, e: SlackApiError, permanent: boolean, detail = "") =>
      Effect.gen(function*() {
        if (permanent) {
          stats.permanentFailures++
          stats.lastPermanentFailure = { target, reason: e.error, at: new Date(yield* Clock.currentTimeMillis).toISOString() }
          yield* count("permanent")
          yield* Effect.logWarning("slack refused the message for good; not retrying").pipe(
            Effect.annotateLogs({ target, reason: e.error })
          )
        } else {
          yield* count(e.error === "ratelimited" ? "rate_limited" : "failed")
        }
        return yield* new DeliveryFailed({
          target,
          reason: `${e.error}${detail}`,
          permanent,
          ...(e.retryAfter !== undefined ? { retryAfterMs: e.retryAfter * 1000 } : {})
        })
      })

    const sendAll = (target: string, address: SlackAddress, chunks: ReadonlyArray<string>, question: Outbound["question"], requestId: string | undefined) =>
      Effect.gen(function*() {
        for (let i = 0; i < chunks.length; i++) {
          const last = i === chunks.length - 1
          const blocks = last && question !== undefined ? questionBlocks(question.id, chunks[i]!, question.options) : undefined
          for (let attempt = 0; ; attempt++) {
            const result = yield* api.call("chat.postMessage", {
              ...addressFields(address),
              text: chunks[i]!,
              ...(blocks !== undefined ? { blocks } : {})
            }).pipe(Effect.result)
            if (result._tag === "Success") {
              if (blocks !== undefined && question !== undefined && typeof result.success["ts"] === "string") {
                options.buttons.sent(question.id, { channel: address.channel, ts: result.success["ts"], text: chunks[i]! })
              }
              stats.sent++
              yield* count("sent")
              break
            }
            const e = result.failure
            const detail = i > 0 ? ` (after ${i} of ${chunks.length} parts)` : ""
            if (!isTemporary(e)) return yield* failed(target, e, true, detail)
            if (e.error === "ratelimited") stats.rateLimited++
            if (i === 0) return yield* failed(target, e, false)
            // Part of the message arrived: a Router retry would repeat it, so the last failure is final.
            if (attempt + 1 >= chunkAttempts) return yield* failed(target, e, true, detail)
            const waitMs = e.retryAfter !== undefined ? e.retryAfter * 1000 : 500 * 2 ** attempt
            yield* Effect.logInfo(`slack post to ${target} failed (${e.message}); part ${i + 1} again in ${waitMs} ms`).pipe(
              Effect.annotateLogs({ requestId: requestId ?? "" })
            )
            yield* Effect.sleep(waitMs)
          }
        }
      })

    const send = Effect.fn("slack.send")(function*(target: string, outbound: Outbound) {
      const address = parseTarget(target)
      if (address === undefined) return yield* new DeliveryFailed({ target, reason: "not a Slack conversation", permanent: true })
      // Default deny both ways: the model (or text fed to it) must not make the bot write to a
      // conversation the owner has not allowed, whatever path the message took (notify, relay, digest).
      if (!(yield* options.allowlist.outbound(address.channel))) {
        yield* count("refused_not_allowed")
        return yield* new DeliveryFailed({
          target,
          reason: "channel is not in SLACK_ALLOWED_CHANNEL_IDS (nor a conversation of a user in SLACK_ALLOWED_USER_IDS)",
          permanent: true
        })
      }
      const chunks = chunkMrkdwn(renderMrkdwn(outbound.text), SLACK_LIMIT)
      const question = outbound.question !== undefined && outbound.question.options.length > 0 ? outbound.question : undefined
      if (question !== undefined) {
        options.buttons.remember({
          questionId: question.id,
          source: target,
          options: question.options,
          askedBy: options.requester(outbound.requestId)
        })
        if (chunks.length === 0) chunks.push("Choose one:")
      }
      yield* Effect.annotateCurrentSpan({
        "switchboard.target": target,
        "slack.chunks": chunks.length,
        ...(outbound.requestId !== undefined ? { "switchboard.request_id": outbound.requestId } : {})
      })
      if (chunks.length === 0) return
      yield* inLane(address.channel, sendAll(target, address, chunks, question, outbound.requestId))
    })

    return { send }
  })
