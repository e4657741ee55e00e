// Long polling without a framework runner, because the offset is the acknowledgement: a batch's
// offset is sent (confirmed) with the next getUpdates only after every update of the batch has
// been handed to Intake. Chats are handled concurrently, each chat's updates in order. Failures
// back off (or wait retry_after) and show in /status and /health; the loop never ends by itself.
import { Clock, Duration, Effect, Metric, Schema } from "effect"
import { chatOf, updateIdOf } from "./inbound.ts"
import { telegramFailingInARow, telegramLastPoll, telegramPollFailures } from "./metrics.ts"
import type { ChannelLifeHandle } from "../../core/Channels.ts"
import type { TelegramStats } from "./stats.ts"
import type { TelegramApi, TelegramApiError } from "./TelegramApi.ts"

export interface PollState {
  /** The next offset to ask for: everything below it has been handed to Intake. */
  offset: number | undefined
  /** The offset Telegram last acknowledged (sent with a successful getUpdates). */
  confirmed: number | undefined
}

export interface PollingOptions {
  readonly api: TelegramApi["Service"]
  readonly handle: (update: unknown) => Effect.Effect<void>
  /** Told when polls answer (up) and when they fail. */
  readonly life: ChannelLifeHandle
  readonly stats: TelegramStats
  readonly state: PollState
  readonly pollTimeout: Duration.Duration
  readonly allowedUpdates: ReadonlyArray<string>
  /** Keep the offset handed over up to (the store), so the next start asks from it. */
  readonly saveOffset?: ((offset: number) => Effect.Effect<void>) | undefined
}

const Updates = Schema.Array(Schema.Unknown)

/**
 * A poll that came back empty sooner than this is followed by a pause until it has passed: a Bot
 * API that answers getUpdates at once with nothing (short polling, a proxy, an emulator) is asked
 * about once a second, not in a tight loop.
 */
export const MIN_EMPTY_POLL_MS = 1000

/** How long to wait after an empty poll that took `elapsedMs`. Pure. */
export const pauseAfterEmptyPoll = (elapsedMs: number) => Math.max(0, MIN_EMPTY_POLL_MS - elapsedMs)

/** Exponential backoff from 1 s, at most 30 s. */
export const backoffMs = (failures: number) => Math.min(30_000, 1000 * 2 ** Math.max(0, failures - 1))

/** Updates grouped by chat, in their original order within each group. */
export const byChat = (updates: ReadonlyArray<unknown>): Array<Array<unknown>> => {
  const groups = new Map<number | "none", Array<unknown>>()
  for (const u of updates) {
    const key = chatOf(u) ?? "none"
    const group = groups.get(key)
    if (group) group.push(u)
    else groups.set(key, [u])
  }
  return [...groups.values()]
}

export const makePolling = (options: PollingOptions) => {
  const { api, stats, state } = options
  const seconds = Math.max(0, Math.round(Duration.toSeconds(options.pollTimeout)))

  const onFailure = (e: TelegramApiError) =>
    Effect.gen(function*() {
      stats.consecutiveFailures++
      stats.lastError = e.message
      stats.state = "failing"
      yield* Metric.update(telegramPollFailures, 1)
      yield* Metric.update(telegramFailingInARow, stats.consecutiveFailures)
      yield* options.life.failing(e.message)
      yield* Effect.logWarning("telegram getUpdates failed").pipe(
        Effect.annotateLogs({ code: e.code, reason: e.description, failures: stats.consecutiveFailures })
      )
      // 409: a webhook is set (or another poller runs); remove the webhook and try again.
      if (e.code === 409) yield* api.call("deleteWebhook", {}).pipe(Effect.ignore)
      yield* Effect.sleep(e.retryAfter !== undefined ? e.retryAfter * 1000 : backoffMs(stats.consecutiveFailures))
    })

  const pollOnce = Effect.gen(function*() {
    const startedAt = yield* Clock.currentTimeMillis
    const offset = state.offset
    const raw = yield* api.call("getUpdates", {
      ...(offset !== undefined ? { offset } : {}),
      timeout: seconds,
      allowed_updates: options.allowedUpdates
    }, Duration.sum(options.pollTimeout, Duration.seconds(15)))
    state.confirmed = offset
    stats.consecutiveFailures = 0
    stats.lastError = null
    stats.state = "polling"
    const polledAt = yield* Clock.currentTimeMillis
    stats.lastPollAt = new Date(polledAt).toISOString()
    yield* Metric.update(telegramFailingInARow, 0)
    yield* Metric.update(telegramLastPoll, Math.floor(polledAt / 1000))
    yield* options.life.up
    const updates = Schema.decodeUnknownExit(Updates)(raw)
    if (updates._tag === "Failure") {
      yield* Effect.logWarning("getUpdates returned something other than a list")
      return yield* Effect.sleep(pauseAfterEmptyPoll(polledAt - startedAt))
    }
    const batch = updates.value
    if (batch.length === 0) return yield* Effect.sleep(pauseAfterEmptyPoll(polledAt - startedAt))
    const ids = batch.map(updateIdOf).filter((id): id is number => id !== undefined).sort((a, b) => a - b)
    const handed = new Set<number>()
    yield* Effect.forEach(
      byChat(batch),
      (group) =>
        Effect.forEach(group, (raw) =>
          options.handle(raw).pipe(Effect.tap(() =>
            Effect.sync(() => {
              const id = updateIdOf(raw)
              if (id !== undefined) handed.add(id)
            })
          )), { discard: true }),
      { concurrency: "unbounded", discard: true }
    ).pipe(
      // Also when interrupted (a stop mid-batch): everything below the first update not yet handed
      // over is acknowledged, so a restart does not answer those again.
      Effect.ensuring(Effect.suspend(() => {
        const open = ids.find((id) => !handed.has(id))
        const next = open ?? (ids.length > 0 ? ids[ids.length - 1]! + 1 : undefined)
        if (next === undefined || next <= (state.offset ?? 0)) return Effect.void
        state.offset = next
        return options.saveOffset === undefined ? Effect.void : options.saveOffset(next)
      }))
    )
  })

  /** Poll forever. */
  const run = pollOnce.pipe(Effect.catch(onFailure), Effect.forever)

  /** At shutdown: acknowledge what was handed to Intake but not yet confirmed by a later poll. */
  const confirm = Effect.suspend(() =>
    state.offset === undefined || state.offset === state.confirmed
      ? Effect.void
      : api.call("getUpdates", { offset: state.offset, limit: 1, timeout: 0 }, "3 seconds").pipe(
        Effect.tap(() => Effect.sync(() => (state.confirmed = state.offset))),
        Effect.catch((e) => Effect.logWarning(`could not confirm the Telegram offset at shutdown: ${e.message}`))
      )
  )

  return { run, confirm }
}
