// Outbound: one Outbound → Discord Markdown → chunks of ≤ 2000 → messages, one message at a time
// per channel so the chunks of one reply stay together. Mentions in the text never ping anyone
// (allowed_mentions none). A reply quotes the message it answers; a question carries its buttons on
// the last chunk; the answer to a slash command replaces its "thinking…". Rate limits the library
// does not wait out itself come back with retry_after: on the first chunk to the Router (which
// waits and retries the whole message, nothing was sent yet), on a later chunk waited out here.
import { Clock, Effect, Metric, Semaphore } from "effect"
import { DeliveryFailed } from "../../domain/errors.ts"
import type { Outbound } from "../../domain/model.ts"
import { questionRows } from "./buttons.ts"
import { DISCORD_LIMIT, chunkMarkdown } from "./chunk.ts"
import { type DiscordApi, type DiscordApiError, isPermanent, type MessageBody } from "./DiscordApi.ts"
import { DM, GROUP_DM } from "./events.ts"
import { discordSends } from "./metrics.ts"
import type { Places } from "./places.ts"
import { renderMarkdown } from "./render.ts"
import type { DiscordState } from "./state.ts"
import { type DiscordAddress, parseTarget, postChannel } from "./target.ts"

export const NO_PINGS = { parse: [], replied_user: false } as const

const count = (outcome: string) => Metric.update(Metric.withAttributes(discordSends, { outcome }), 1)

export interface SenderOptions {
  readonly api: DiscordApi["Service"]
  readonly state: DiscordState
  readonly places: Places
  /** Attempts per chunk after the first one was sent (rate limits, network errors). */
  readonly chunkAttempts?: number
}

export const makeSender = (options: SenderOptions) => {
  const { api, state, places } = options
  const stats = state.stats
  const chunkAttempts = options.chunkAttempts ?? 4
  const lanes = new Map<string, { readonly lock: Semaphore.Semaphore; users: number }>()

  /** One message at a time per channel, in order; the map forgets idle channels. */
  const inLane = <A, E>(channelId: string, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      let lane = lanes.get(channelId)
      if (lane === undefined) lanes.set(channelId, lane = { lock: Semaphore.makeUnsafe(1), users: 0 })
      const held = lane
      held.users++
      return held.lock.withPermit(effect).pipe(Effect.ensuring(Effect.sync(() => {
        if (--held.users === 0) lanes.delete(channelId)
      })))
    })

  /** Default deny, outbound too: the model must not make the bot write where the owner did not allow it. */
  const mayPost = (target: string, address: DiscordAddress) =>
    Effect.gen(function*() {
      if (state.conversations.has(target)) return true
      if (state.lists.channels.has(address.channelId)) {
        if (address.threadId === undefined) return true
        // A thread id is only believed when Discord says the thread is in that channel.
        const thread = yield* places.info(address.threadId)
        return thread?.parent_id === address.channelId
      }
      if (address.threadId !== undefined || state.lists.users.size === 0) return false
      const dm = yield* places.info(address.channelId)
      return dm !== undefined && (dm.type === DM || dm.type === GROUP_DM) &&
        (dm.recipients ?? []).some((r) => state.lists.users.has(r.id))
    })

  const failed = (target: string, e: DiscordApiError, permanent: boolean, detail = "") =>
    Effect.gen(function*() {
      if (permanent) {
        stats.permanentFailures++
        stats.lastPermanentFailure = { target, reason: e.message, at: new Date(yield* Clock.currentTimeMillis).toISOString() }
        yield* count("permanent")
        yield* Effect.logWarning("discord refused the message for good; not retrying").pipe(
          Effect.annotateLogs({ target, status: e.status, code: e.code, reason: e.description })
        )
      } else yield* count(e.status === 429 ? "rate_limited" : "failed")
      return yield* new DeliveryFailed({
        target,
        reason: `${e.message}${detail}`,
        permanent,
        ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {})
      })
    })

  /** Send the chunks in order; `first` replaces the first send (the deferred answer of a slash command). */
  const sendAll = (target: string, channelId: string, bodies: ReadonlyArray<MessageBody>, first?: (body: MessageBody) => Effect.Effect<void, DiscordApiError>) =>
    Effect.gen(function*() {
      let lastId: string | undefined
      for (const [i, body] of bodies.entries()) {
        let attempt = 0
        while (true) {
          const sent = yield* (i === 0 && first !== undefined ? Effect.as(first(body), undefined) : Effect.map(api.createMessage(channelId, body), (m) => m.id)).pipe(Effect.result)
          if (sent._tag === "Success") {
            lastId = sent.success
            stats.sent++
            yield* count("sent")
            break
          }
          const e = sent.failure
          if (e.status === 429) stats.rateLimited++
          const parts = i > 0 ? ` (after ${i} of ${bodies.length} parts)` : ""
          if (isPermanent(e)) return yield* failed(target, e, true, parts)
          if (i === 0) return yield* failed(target, e, false)
          if (++attempt >= chunkAttempts) return yield* failed(target, e, true, parts) // a Router retry would repeat parts
          const waitMs = e.retryAfterMs ?? 500 * 2 ** attempt
          yield* Effect.logInfo(`discord send to ${target} failed (${e.message}); part ${i + 1} again in ${waitMs} ms`)
          yield* Effect.sleep(waitMs)
        }
      }
      return lastId
    })

  const send = Effect.fn("discord.send")(function*(target: string, outbound: Outbound) {
    const address = parseTarget(target)
    if (address === undefined) return yield* new DeliveryFailed({ target, reason: "not a Discord channel", permanent: true })
    if (!(yield* mayPost(target, address))) {
      yield* count("refused_not_allowed")
      return yield* new DeliveryFailed({
        target,
        reason: "channel is not in DISCORD_ALLOWED_CHANNEL_IDS and no allowed user talked to the bot there",
        permanent: true
      })
    }
    const pending = outbound.requestId === undefined ? undefined : state.interactions.get(outbound.requestId)
    // The slash command's own response already showed this answer.
    if (pending?.mode === "inline" && outbound.kind !== "ask") return void state.interactions.delete(outbound.requestId!)
    const channelId = postChannel(address)
    const chunks = chunkMarkdown(renderMarkdown(outbound.text), DISCORD_LIMIT)
    const question = outbound.question
    const rows = question === undefined ? undefined : questionRows(question.id, question.options)
    if (chunks.length === 0) {
      if (rows === undefined) return
      chunks.push("Choose one:")
    }
    yield* Effect.annotateCurrentSpan({
      "switchboard.target": target,
      "discord.chunks": chunks.length,
      ...(outbound.requestId !== undefined ? { "switchboard.request_id": outbound.requestId } : {})
    })
    const author = outbound.requestId === undefined ? undefined : state.authors.get(outbound.requestId)
    const quote = (outbound.kind === "reply" || outbound.kind === "error") && author?.messageId !== undefined && author.channelId === channelId
      ? { message_reference: { message_id: author.messageId, fail_if_not_exists: false } }
      : {}
    const bodies: Array<MessageBody> = chunks.map((content, i) => ({
      content,
      allowed_mentions: NO_PINGS,
      ...(i === 0 ? quote : {}),
      ...(i === chunks.length - 1 && rows !== undefined ? { components: rows } : {})
    }))
    if (question !== undefined && rows !== undefined) {
      state.questions.set(question.id, {
        source: target,
        channelId,
        options: question.options,
        rows,
        askerId: author?.userId,
        content: chunks[chunks.length - 1]
      })
    }
    const deferred = pending?.mode === "deferred" && outbound.requestId !== undefined ? pending : undefined
    const first = deferred === undefined ? undefined : (body: MessageBody) => {
      state.interactions.delete(outbound.requestId!)
      const { message_reference: _, ...rest } = body
      // An interaction token lives 15 minutes: past that (or if Discord lost it), post the answer instead.
      return api.editReply(deferred.applicationId, deferred.token, rest).pipe(
        Effect.catchIf(isPermanent, () => Effect.asVoid(api.createMessage(channelId, rest)))
      )
    }
    const lastId = yield* inLane(channelId, sendAll(target, channelId, bodies, first))
    if (question !== undefined && rows !== undefined) {
      const asked = state.questions.get(question.id)
      if (asked !== undefined) asked.messageId = lastId
    }
  })

  return { send }
}
