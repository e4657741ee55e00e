// Outbound: deliver(target, message) through the sender registered for the target's channel.
// Retries what a channel says is temporary (honouring its retry-after), refuses a send that would
// leave the current turn's source without saying so, and reports unknown targets without crashing.
// A message the channel still cannot take after the retries (Telegram unreachable for a while) is
// kept in the outbox and sent again with a backoff, in order per target, for up to a day; messages
// for that target queue behind it meanwhile. QueueSpill keeps the outbox across a graceful restart.
import { Cause, Clock, Context, Duration, Effect, Fiber, Latch, Layer, Metric, Option, Scope } from "effect"
import { type DeliveryError, DeliveryFailed, SourceMismatch, UnknownTarget } from "../domain/errors.ts"
import { deliveries, outboxGaveUp, outboxOldest, outboxWaiting, sourceMismatches } from "../domain/metrics.ts"
import type { Outbound } from "../domain/model.ts"
import { scopedEntry } from "../domain/scopedEntry.ts"
import { parseSource } from "../domain/source.ts"
import { CurrentRequest } from "./CurrentRequest.ts"

/** One per channel (`http`, `cli`, `telegram`, `redis`, …). */
export interface ChannelSender {
  readonly channel: string
  readonly send: (target: string, message: Outbound) => Effect.Effect<void, DeliveryFailed>
}

export type DeliveryOutcome = "delivered" | "queued"

export interface DeliverOptions {
  /** The caller named this target on purpose (a proactive notification, `notify { target }`). */
  readonly explicit?: boolean | undefined
}

export interface RouterStats {
  readonly channels: ReadonlyArray<string>
  readonly delivered: number
  readonly failed: number
  readonly unknownTargets: number
  readonly mismatches: number
  readonly outbox: {
    readonly waiting: number
    readonly oldestSince: string | null
    /** Messages that went into the outbox, ever. */
    readonly deferred: number
    /** Messages dropped from the outbox: refused for good, or still failing after maxAge. */
    readonly gaveUp: number
  }
}

export interface RetryPolicy {
  readonly attempts: number
  readonly baseDelayMs: number
}

export interface OutboxPolicy {
  /** First wait before the outbox is tried again; doubles per failed round. */
  readonly retryEvery: Duration.Duration
  readonly maxRetryEvery: Duration.Duration
  /** A message still failing after this long is dropped (logged as an error). */
  readonly maxAge: Duration.Duration
}

export const defaultOutboxPolicy: OutboxPolicy = {
  retryEvery: Duration.seconds(5),
  maxRetryEvery: Duration.minutes(5),
  maxAge: Duration.hours(24)
}

/** A message waiting for its channel. */
export interface OutboxEntry {
  readonly target: string
  readonly message: Outbound
  /** When it first failed (ms). */
  readonly since: number
  readonly attempts: number
  readonly lastError: string
}

/** How long a target waits for its next try after `failures` failed tries from the outbox. Pure. */
export const outboxDelayMs = (policy: OutboxPolicy, failures: number): number =>
  Math.min(Duration.toMillis(policy.retryEvery) * 2 ** failures, Duration.toMillis(policy.maxRetryEvery))

export class Router extends Context.Service<Router, {
  /** Register a channel's sender for the lifetime of the caller's scope. */
  readonly register: (sender: ChannelSender) => Effect.Effect<void, never, Scope.Scope>
  /** "queued": the channel could not take it yet; it waits in the outbox. */
  readonly deliver: (target: string, message: Outbound, options?: DeliverOptions) => Effect.Effect<DeliveryOutcome, DeliveryError>
  readonly stats: Effect.Effect<RouterStats>
  /** Messages waiting in the outbox, oldest first (QueueSpill keeps them at a stop). */
  readonly outbox: Effect.Effect<ReadonlyArray<OutboxEntry>>
  /** Put kept messages back into the outbox (at start). */
  readonly restoreOutbox: (entries: ReadonlyArray<OutboxEntry>) => Effect.Effect<void>
  /** Stop re-sending the outbox (daemon stop), so a snapshot of it is not also being sent. */
  readonly stopOutbox: Effect.Effect<void>
  /** Take a question out of the outbox: nobody waits for its answer any more. */
  readonly withdrawQuestion: (questionId: string) => Effect.Effect<void>
}>()("switchboard/Router") {
  static readonly make = (retry: RetryPolicy, outboxPolicy: OutboxPolicy | undefined = undefined) =>
    Effect.gen(function*() {
      const senders = new Map<string, ChannelSender>()
      const counters = { delivered: 0, failed: 0, unknownTargets: 0, mismatches: 0, deferred: 0, gaveUp: 0 }
      const outbox: Array<OutboxEntry> = []
      if (outboxPolicy !== undefined) {
        yield* Metric.update(outboxGaveUp, 0)
        yield* Metric.update(outboxWaiting, 0)
        yield* Metric.update(outboxOldest, 0)
      }
      const outboxNonEmpty = yield* Latch.make(false)

      // Only removes what it registered: a newer sender for the channel stays.
      const register = (sender: ChannelSender) =>
        Effect.andThen(
          // The channel's series exist from the start, so an alert on increase() sees the first failure.
          Effect.forEach(["delivered", "failed", "deferred"], (outcome) =>
            Metric.update(Metric.withAttributes(deliveries, { channel: sender.channel, outcome }), 0), { discard: true }),
          scopedEntry(senders, sender.channel, sender)
        )

      const count = (channel: string, outcome: string) =>
        Metric.update(Metric.withAttributes(deliveries, { channel, outcome }), 1)

      const checkSource = Effect.fnUntraced(function*(target: string, options: DeliverOptions | undefined) {
        const current = yield* CurrentRequest
        if (current === undefined || current.source === target || options?.explicit === true) return
        counters.mismatches++
        const now = yield* Clock.currentTimeNanos
        yield* Effect.currentSpan.pipe(
          Effect.tap((span) =>
            Effect.sync(() => span.event("routing.source_mismatch", now, { target, source: current.source }))
          ),
          Effect.ignore
        )
        yield* Metric.update(sourceMismatches, 1)
        yield* Effect.logWarning("refused an implicit delivery to another source").pipe(
          Effect.annotateLogs({ target, source: current.source, requestId: current.id })
        )
        return yield* new SourceMismatch({ target, source: current.source })
      })

      const sendWithRetry = (sender: ChannelSender, target: string, message: Outbound) => {
        const attempt = (n: number): Effect.Effect<void, DeliveryFailed> =>
          sender.send(target, message).pipe(
            Effect.catchTag("DeliveryFailed", (e) => {
              if (e.permanent || n + 1 >= retry.attempts) return Effect.fail(e)
              const delay = e.retryAfterMs ?? retry.baseDelayMs * 2 ** n
              return Effect.logInfo(`delivery to ${target} failed (${e.reason}); retrying in ${delay} ms`).pipe(
                Effect.andThen(Effect.sleep(delay)),
                Effect.andThen(attempt(n + 1))
              )
            })
          )
        return attempt(0)
      }

      const outboxChanged = Effect.suspend(() => {
        const oldest = outbox.reduce((min, e) => Math.min(min, e.since), Number.POSITIVE_INFINITY)
        return Effect.andThen(
          Metric.update(outboxWaiting, outbox.length),
          Metric.update(outboxOldest, outbox.length === 0 ? 0 : Math.floor(oldest / 1000))
        )
      })

      /** Into the outbox; its first try is due after the first retry delay, or when the channel asked. */
      const keep = (entry: OutboxEntry, channelAsksMs = 0) =>
        Effect.gen(function*() {
          if (!due.has(entry.target)) retryAfter(entry.target, yield* Clock.currentTimeMillis, 0, channelAsksMs)
          outbox.push(entry)
          yield* outboxChanged
          counters.deferred++
          outboxNonEmpty.openUnsafe()
          yield* count(parseSource(entry.target)?.channel ?? "unknown", "deferred")
        })

      const giveUp = (entry: OutboxEntry, why: string) =>
        Effect.gen(function*() {
          counters.gaveUp++
          yield* Metric.update(outboxGaveUp, 1)
          counters.failed++
          yield* count(parseSource(entry.target)?.channel ?? "unknown", "failed")
          yield* Effect.logError(`outbox: gave up on a message for ${entry.target}: ${why}`).pipe(
            Effect.annotateLogs({ target: entry.target, requestId: entry.message.requestId ?? "", attempts: entry.attempts })
          )
        })

      /** One pass over the outbox, in order; a target whose head still fails waits for the next. Returns progress. */
      /**
       * When each target's head message is tried next. Per target: one chat whose channel stays
       * down backs off alone, and does not hold up another chat that failed once.
       */
      const due = new Map<string, number>()
      const retryAfter = (target: string, now: number, failures: number, channelAsksMs = 0) => {
        if (outboxPolicy !== undefined) due.set(target, now + Math.max(outboxDelayMs(outboxPolicy, failures), channelAsksMs))
      }

      /** One pass over the outbox, in order; a target whose head is not due or still fails waits. */
      const flushOnce = (policy: OutboxPolicy) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const blocked = new Set<string>()
          const flowing = new Set<string>() // targets whose head went out this round: the rest follows
          for (const entry of [...outbox]) {
            if (blocked.has(entry.target)) continue
            const remove = () => {
              const at = outbox.indexOf(entry)
              if (at >= 0) outbox.splice(at, 1)
            }
            if (entry.message.expiresAt !== undefined && now > entry.message.expiresAt) {
              // A question whose answer nobody waits for any more: sending it now would only confuse.
              remove()
              yield* Effect.logInfo(`outbox: dropped an expired ${entry.message.kind} for ${entry.target}`)
              continue
            }
            if (now - entry.since > Duration.toMillis(policy.maxAge)) {
              remove()
              yield* giveUp(entry, `still failing after ${Duration.format(policy.maxAge)} (${entry.lastError})`)
              continue
            }
            if (!flowing.has(entry.target) && (due.get(entry.target) ?? 0) > now) {
              blocked.add(entry.target)
              continue
            }
            const sender = senders.get(parseSource(entry.target)?.channel ?? "")
            if (sender === undefined) {
              blocked.add(entry.target) // the channel is not (yet) registered
              retryAfter(entry.target, now, 0)
              continue
            }
            if (stop.requested) break // a stop waits for this round: end it after the send in flight
            const sent = yield* sender.send(entry.target, entry.message).pipe(Effect.result)
            if (sent._tag === "Success") {
              remove()
              flowing.add(entry.target)
              counters.delivered++
              yield* count(sender.channel, "delivered")
              yield* Effect.logInfo(`outbox: delivered a kept message to ${entry.target}`).pipe(
                Effect.annotateLogs({ requestId: entry.message.requestId ?? "", attempts: entry.attempts + 1 })
              )
            } else if (sent.failure.permanent) {
              remove()
              yield* giveUp(entry, sent.failure.reason)
            } else {
              const at = outbox.indexOf(entry)
              if (at >= 0) outbox[at] = { ...entry, attempts: entry.attempts + 1, lastError: sent.failure.reason }
              blocked.add(entry.target)
              retryAfter(entry.target, now, entry.attempts + 1, sent.failure.retryAfterMs)
            }
          }
          for (const target of due.keys()) if (!outbox.some((e) => e.target === target)) due.delete(target)
          if (outbox.length === 0) outboxNonEmpty.closeUnsafe()
          yield* outboxChanged
        })

      /** Until the next target is due: at most one first retry delay (new messages are due then). */
      const nextRoundIn = (policy: OutboxPolicy) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const first = outbox.reduce((min, e) => Math.min(min, due.get(e.target) ?? now), Number.POSITIVE_INFINITY)
          return Math.max(0, Math.min(first - now, Duration.toMillis(policy.retryEvery)))
        })

      // A stop lets the round in flight finish its current send, so a message that went out is
      // never also kept for the next start (and sent twice); an idle loop just ends.
      const stop = { requested: false, inRound: false }
      const outboxLoop = outboxPolicy === undefined
        ? undefined
        : yield* Effect.gen(function*() {
          while (!stop.requested) {
            yield* outboxNonEmpty.await
            yield* Effect.sleep(yield* nextRoundIn(outboxPolicy))
            if (stop.requested) return
            stop.inRound = true
            yield* flushOnce(outboxPolicy).pipe(
              Effect.catchCause((cause) =>
                Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError("outbox round failed", cause)
              ),
              Effect.ensuring(Effect.sync(() => {
                stop.inRound = false
              }))
            )
          }
        }).pipe(Effect.forkScoped)
      const stopOutbox = Effect.suspend(() => {
        if (outboxLoop === undefined) return Effect.void
        stop.requested = true
        if (!stop.inRound) return Fiber.interrupt(outboxLoop)
        // A send that hangs is cut after a while: then the message may go out twice (at least once).
        return Fiber.await(outboxLoop).pipe(
          Effect.timeoutOption(Duration.seconds(5)),
          Effect.andThen(Fiber.interrupt(outboxLoop))
        )
      })

      const deliver = Effect.fn("router.deliver")(
        function*(target: string, message: Outbound, options?: DeliverOptions) {
          yield* Effect.annotateCurrentSpan({
            "switchboard.target": target,
            "switchboard.kind": message.kind,
            ...(message.requestId ? { "switchboard.request_id": message.requestId } : {})
          })
          yield* checkSource(target, options)
          const parsed = parseSource(target)
          const sender = parsed && senders.get(parsed.channel)
          if (sender === undefined || parsed === undefined) {
            counters.unknownTargets++
            yield* count(parsed?.channel ?? "unknown", "unknown_target")
            yield* Effect.logError("no channel can deliver to this target").pipe(Effect.annotateLogs({ target }))
            return yield* new UnknownTarget({ target })
          }
          const now = yield* Clock.currentTimeMillis
          const fresh = (reason: string): OutboxEntry => ({ target, message, since: now, attempts: 0, lastError: reason })
          // Behind messages already waiting for this target: a chat sees its messages in order.
          if (outboxPolicy !== undefined && outbox.some((e) => e.target === target)) {
            yield* keep(fresh("earlier messages for this target are waiting"))
            yield* Effect.logWarning(`delivery to ${target} queued behind the outbox`)
            return "queued" as const
          }
          const sent = yield* sendWithRetry(sender, target, message).pipe(
            // Interrupted mid-delivery (a stop while waiting out a retry-after): keep it, not lose it.
            Effect.onInterrupt(() => outboxPolicy === undefined ? Effect.void : keep(fresh("interrupted by a stop"))),
            Effect.result
          )
          if (sent._tag === "Failure") {
            const e = sent.failure
            if (outboxPolicy !== undefined && !e.permanent) {
              yield* keep(fresh(e.reason), e.retryAfterMs)
              yield* Effect.logWarning(`${e.message}; kept in the outbox, retrying in the background`).pipe(
                Effect.annotateLogs({ target })
              )
              return "queued" as const
            }
            counters.failed++
            yield* count(parsed.channel, "failed")
            yield* Effect.logError(e.message).pipe(Effect.annotateLogs({ target }))
            return yield* e
          }
          counters.delivered++
          yield* count(parsed.channel, "delivered")
          return "delivered" as const
        }
      )

      const stats = Effect.sync((): RouterStats => {
        const { deferred, gaveUp, ...rest } = counters
        const oldest = outbox.reduce((min, e) => Math.min(min, e.since), Number.POSITIVE_INFINITY)
        return {
          channels: [...senders.keys()].sort(),
          ...rest,
          outbox: {
            waiting: outbox.length,
            oldestSince: outbox.length === 0 ? null : new Date(oldest).toISOString(),
            deferred,
            gaveUp
          }
        }
      })
      const restoreOutbox = (restored: ReadonlyArray<OutboxEntry>) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          // Questions do not survive a restart (their turn is gone): their messages are not sent.
          const entries = restored.filter((e) => e.message.question === undefined)
          for (const e of entries) if (!due.has(e.target)) retryAfter(e.target, now, 0)
          outbox.push(...entries)
          if (outbox.length > 0) outboxNonEmpty.openUnsafe()
          yield* outboxChanged
        })
      const withdrawQuestion = (questionId: string) =>
        Effect.sync(() => {
          for (let i = outbox.length - 1; i >= 0; i--) {
            if (outbox[i]!.message.question?.id === questionId) outbox.splice(i, 1)
          }
        }).pipe(Effect.andThen(outboxChanged))
      return Router.of({
        register,
        deliver,
        stats,
        outbox: Effect.sync(() => [...outbox]),
        restoreOutbox,
        stopOutbox,
        withdrawQuestion
      })
    })

  /** With the outbox (default policy). */
  static readonly layer = Layer.effect(Router, Router.make({ attempts: 4, baseDelayMs: 500 }, defaultOutboxPolicy))
}
