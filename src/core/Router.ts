// Outbound: deliver(target, message) through the sender registered for the target's channel.
// Retries what a channel says is temporary (honouring its retry-after), refuses a send that would
// leave the current turn's source without saying so, and reports unknown targets without crashing.
// A message the channel still cannot take after the retries (Telegram unreachable for a while) is
// kept in the outbox and sent again with a backoff, in order per target, for up to a day; messages
// for that target queue behind it meanwhile. The outbox is write-ahead: each message is committed to
// the Store before its channel is asked, and deleted once the channel confirmed it, so a crash at any
// point leaves it to be sent by the next start.
import { Clock, Context, Effect, Layer, Metric, Scope } from "effect"
import { type DeliveryError, DeliveryFailed, SourceMismatch, UnknownTarget } from "../domain/errors.ts"
import { deliveries, outboxGaveUp, sourceMismatches } from "../domain/metrics.ts"
import type { Outbound } from "../domain/model.ts"
import { scopedEntry } from "../domain/scopedEntry.ts"
import { parseSource } from "../domain/source.ts"
import { Store } from "../store/Store.ts"
import { insertOutbox, loadOutbox, removeOutbox, updateOutboxAttempt } from "../store/tables/outbox.ts"
import { removeQueued } from "../store/tables/queue.ts"
import { CurrentRequest } from "./CurrentRequest.ts"
import { SendOnce } from "./SendOnce.ts"
import { makeSendGuard } from "./sendGuard.ts"
import { defaultOutboxPolicy, makeOutbox, type OutboxEntry, type OutboxPolicy } from "./outbox.ts"

export { defaultOutboxPolicy, type OutboxEntry, outboxDelayMs, type OutboxPolicy } from "./outbox.ts"

/** One per channel (`http`, `cli`, `telegram`, `redis`, …). */
export interface ChannelSender {
  readonly channel: string
  readonly send: (target: string, message: Outbound) => Effect.Effect<void, DeliveryFailed>
  /** The channel keeps a message's `deliveryKey` itself (writes it once): no SendOnce round trips. */
  readonly dedupes?: boolean | undefined
}

export type DeliveryOutcome = "delivered" | "queued"

export interface DeliverOptions {
  /** The caller named this target on purpose (a proactive notification, `notify { target }`). */
  readonly explicit?: boolean | undefined
  /** The queued request this message answers: removed from the store in the transaction that commits the message. */
  readonly settles?: string | undefined
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

export class Router extends Context.Service<Router, {
  /** Register a channel's sender for the lifetime of the caller's scope. */
  readonly register: (sender: ChannelSender) => Effect.Effect<void, never, Scope.Scope>
  /** "queued": the channel could not take it yet; it waits in the outbox. */
  readonly deliver: (target: string, message: Outbound, options?: DeliverOptions) => Effect.Effect<DeliveryOutcome, DeliveryError>
  readonly stats: Effect.Effect<RouterStats>
  /** Messages waiting in the outbox, oldest first. */
  readonly outbox: Effect.Effect<ReadonlyArray<OutboxEntry>>
  /** Add messages kept elsewhere (an older version's outbox.jsonl) to the outbox, stored. */
  readonly restoreOutbox: (entries: ReadonlyArray<OutboxEntry>) => Effect.Effect<void>
  /** Stop re-sending the outbox (daemon stop), so a snapshot of it is not also being sent. */
  readonly stopOutbox: Effect.Effect<void>
  /** Take a question out of the outbox: nobody waits for its answer any more. */
  readonly withdrawQuestion: (questionId: string) => Effect.Effect<void>
}>()("switchboard/Router") {
  static readonly make = (retry: RetryPolicy, outboxPolicy: OutboxPolicy | undefined = undefined) =>
    Effect.gen(function*() {
      const store = yield* Store
      const guard = makeSendGuard(yield* Effect.serviceOption(SendOnce))
      const senders = new Map<string, ChannelSender>()
      const counters = { delivered: 0, failed: 0, unknownTargets: 0, mismatches: 0, deferred: 0, gaveUp: 0 }
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
          guard.send(sender, target, message).pipe(
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

      const channelOf = (target: string) => parseSource(target)?.channel ?? "unknown"
      const forget = (key: number | undefined) =>
        key === undefined ? Effect.void : store.transaction("forget a sent message", (db) => removeOutbox(db, key))
      const outbox = outboxPolicy === undefined ? undefined : yield* makeOutbox(outboxPolicy, {
        forget: (entry) => forget(entry.key),
        tried: (entry) =>
          entry.key === undefined
            ? Effect.void
            : store.transaction("record a failed send", (db) => updateOutboxAttempt(db, entry.key!, entry.attempts, entry.lastError)),
        sendFor: (target) => {
          const sender = senders.get(channelOf(target))
          return sender === undefined ? undefined : (message) => guard.send(sender, target, message)
        },
        delivered: (target) =>
          Effect.suspend(() => {
            counters.delivered++
            return count(channelOf(target), "delivered")
          }),
        deferred: (target) =>
          Effect.suspend(() => {
            counters.deferred++
            return count(channelOf(target), "deferred")
          }),
        gaveUp: (entry, why) =>
          Effect.gen(function*() {
            counters.gaveUp++
            counters.failed++
            yield* Metric.update(outboxGaveUp, 1)
            yield* count(channelOf(entry.target), "failed")
            yield* Effect.logError(`outbox: gave up on a message for ${entry.target}: ${why}`).pipe(
              Effect.annotateLogs({ target: entry.target, requestId: entry.message.requestId ?? "", attempts: entry.attempts })
            )
          })
      })

      const deliver = Effect.fn("router.deliver")(
        function*(target: string, unkeyed: Outbound, options?: DeliverOptions) {
          const message = guard.keyed(unkeyed)
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
          // Write-ahead: committed (and its request settled) before the channel is asked. Questions
          // are not stored: after a restart nobody waits for their answer.
          const stored = outbox !== undefined && message.question === undefined
          const key = yield* store.transaction("commit a message to the outbox", (db) => {
            if (options?.settles !== undefined) removeQueued(db, options.settles)
            return stored ? insertOutbox(db, { target, message, since: now, attempts: 0, lastError: "" }) : undefined
          })
          const fresh = (reason: string): OutboxEntry => ({ target, message, since: now, attempts: 0, lastError: reason, key })
          // Behind messages already waiting for this target: a chat sees its messages in order.
          if (outbox !== undefined && outbox.waitingFor(target)) {
            yield* outbox.keep(fresh("earlier messages for this target are waiting"))
            yield* Effect.logWarning(`delivery to ${target} queued behind the outbox`)
            return "queued" as const
          }
          const sent = yield* sendWithRetry(sender, target, message).pipe(
            // Interrupted mid-delivery (a stop while waiting out a retry-after): keep it, not lose it.
            Effect.onInterrupt(() => outbox === undefined ? Effect.void : outbox.keep(fresh("interrupted by a stop"))),
            Effect.result
          )
          if (sent._tag === "Failure") {
            const e = sent.failure
            if (outbox !== undefined && !e.permanent) {
              yield* outbox.keep(fresh(e.reason), e.retryAfterMs)
              if (key !== undefined) yield* store.transaction("record a failed send", (db) => updateOutboxAttempt(db, key, 0, e.reason))
              yield* Effect.logWarning(`${e.message}; kept in the outbox, retrying in the background`).pipe(
                Effect.annotateLogs({ target })
              )
              return "queued" as const
            }
            yield* forget(key)
            counters.failed++
            yield* count(parsed.channel, "failed")
            yield* Effect.logError(e.message).pipe(Effect.annotateLogs({ target }))
            return yield* e
          }
          // The channel confirmed it: only now is it forgotten.
          yield* forget(key)
          counters.delivered++
          yield* count(parsed.channel, "delivered")
          return "delivered" as const
        }
      )

      // What the last run left unsent goes out again, in order per target; rows that do not decode are dropped.
      if (outbox !== undefined) {
        const kept = yield* store.read("load the outbox", loadOutbox)
        for (const bad of kept.rejected) {
          yield* forget(bad.seq)
          yield* Effect.logError("a stored outbox entry does not decode; dropped").pipe(
            Effect.annotateLogs({ seq: bad.seq, reason: bad.reason })
          )
        }
        if (kept.entries.length > 0) {
          yield* outbox.restore(kept.entries.map((row) => ({ ...row, key: row.seq })))
          yield* Effect.logInfo(`outbox: ${kept.entries.length} message(s) kept from the last run are sent again`)
        }
      }

      /** An older version's outbox.jsonl: stored, then sent like the rest. */
      const restoreOutbox = (entries: ReadonlyArray<OutboxEntry>) =>
        outbox === undefined ? Effect.void : Effect.gen(function*() {
          const keyed = yield* store.transaction("import an outbox", (db) =>
            entries.map((e) => ({ ...e, key: e.message.question === undefined ? insertOutbox(db, e) : undefined })))
          yield* outbox.restore(keyed)
        })

      const stats = Effect.gen(function*() {
        const { deferred, gaveUp, ...rest } = counters
        const kept = outbox === undefined ? { entries: [], oldestSince: null } : yield* outbox.snapshot
        return {
          channels: [...senders.keys()].sort(),
          ...rest,
          outbox: { waiting: kept.entries.length, oldestSince: kept.oldestSince, deferred, gaveUp }
        } satisfies RouterStats
      })
      return Router.of({
        register,
        deliver,
        stats,
        outbox: outbox === undefined ? Effect.succeed([]) : Effect.map(outbox.snapshot, (k) => k.entries),
        restoreOutbox,
        stopOutbox: outbox === undefined ? Effect.void : outbox.halt,
        withdrawQuestion: (id) => outbox === undefined ? Effect.void : outbox.withdrawQuestion(id)
      })
    })

  /** With the outbox (default policy). */
  static readonly layer = Layer.effect(Router, Router.make({ attempts: 4, baseDelayMs: 500 }, defaultOutboxPolicy))
}
