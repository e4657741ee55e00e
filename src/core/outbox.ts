// The Router's outbox: messages a channel could not take yet (Telegram unreachable for longer than
// the Router's retries). Each target has its own due time, backing off from 5 s to 5 minutes (or
// what the channel asked for), so one chat that stays down does not slow the others; a target's
// messages go out in order, later ones queue behind the first. Kept for up to a day; a question is
// dropped once nobody waits for its answer. Not a service of its own: part of the Router, which
// owns the senders. The entries are a cache of the store's `outbox` table: every entry removed here
// is forgotten there (`hooks.forget`), so what a crash leaves is exactly what was not sent yet.
import { Cause, Clock, Duration, Effect, Fiber, Latch, Metric } from "effect"
import { outboxGaveUp, outboxOldest, outboxWaiting } from "../domain/metrics.ts"
import type { Outbound } from "../domain/model.ts"
import type { DeliveryFailed } from "../domain/errors.ts"
import { supervised } from "./supervised.ts"

export interface OutboxPolicy {
  /** First wait before a target is tried again; doubles per failed try. */
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
  /** Its row in the store (questions are not stored: nobody waits for them after a restart). */
  readonly key?: number | undefined
}

/** How long a target waits for its next try after `failures` failed tries from the outbox. Pure. */
export const outboxDelayMs = (policy: OutboxPolicy, failures: number): number =>
  Math.min(Duration.toMillis(policy.retryEvery) * 2 ** failures, Duration.toMillis(policy.maxRetryEvery))

export interface OutboxHooks {
  /** The sender for a target, if its channel is registered now. */
  readonly sendFor: (target: string) => ((message: Outbound) => Effect.Effect<void, DeliveryFailed>) | undefined
  readonly delivered: (target: string) => Effect.Effect<void>
  readonly deferred: (target: string) => Effect.Effect<void>
  readonly gaveUp: (entry: OutboxEntry, why: string) => Effect.Effect<void>
  /** The entry left the outbox (sent, given up, expired, withdrawn): delete its stored row. */
  readonly forget: (entry: OutboxEntry) => Effect.Effect<void>
  /** A try from the outbox failed again: record the attempt. */
  readonly tried: (entry: OutboxEntry) => Effect.Effect<void>
}

/** The outbox and its sending fiber, in the caller's scope. */
export const makeOutbox = (policy: OutboxPolicy, hooks: OutboxHooks) =>
  Effect.gen(function*() {
    const entries: Array<OutboxEntry> = []
    /** When each target's head message is tried next. */
    const due = new Map<string, number>()
    const nonEmpty = yield* Latch.make(false)
    yield* Metric.update(outboxGaveUp, 0)
    yield* Metric.update(outboxWaiting, 0)
    yield* Metric.update(outboxOldest, 0)

    const retryAfter = (target: string, now: number, failures: number, channelAsksMs = 0) => {
      due.set(target, now + Math.max(outboxDelayMs(policy, failures), channelAsksMs))
    }

    const oldestSince = () => entries.reduce((min, e) => Math.min(min, e.since), Number.POSITIVE_INFINITY)

    const changed = Effect.suspend(() => {
      if (entries.length === 0) nonEmpty.closeUnsafe()
      else nonEmpty.openUnsafe()
      return Effect.andThen(
        Metric.update(outboxWaiting, entries.length),
        Metric.update(outboxOldest, entries.length === 0 ? 0 : Math.floor(oldestSince() / 1000))
      )
    })

    /** Into the outbox; its first try is due after the first retry delay, or when the channel asked. */
    const keep = (entry: OutboxEntry, channelAsksMs = 0) =>
      Effect.gen(function*() {
        if (!due.has(entry.target)) retryAfter(entry.target, yield* Clock.currentTimeMillis, 0, channelAsksMs)
        entries.push(entry)
        yield* changed
        yield* hooks.deferred(entry.target)
      })

    const waitingFor = (target: string) => entries.some((e) => e.target === target)

    // A stop lets the round in flight finish its current send, so a message that went out is never
    // also kept for the next start (and sent twice); an idle loop just ends.
    const stop = { requested: false, inRound: false }

    /** One pass, in order; a target whose head is not due or still fails waits. */
    const flushOnce = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const blocked = new Set<string>()
      const flowing = new Set<string>() // targets whose head went out this round: the rest follows
      for (const entry of [...entries]) {
        if (blocked.has(entry.target)) continue
        const remove = () => {
          const at = entries.indexOf(entry)
          if (at >= 0) entries.splice(at, 1)
          return hooks.forget(entry)
        }
        if (entry.message.expiresAt !== undefined && now > entry.message.expiresAt) {
          // A question whose answer nobody waits for any more: sending it now would only confuse.
          yield* remove()
          yield* Effect.logInfo(`outbox: dropped an expired ${entry.message.kind} for ${entry.target}`)
          continue
        }
        if (now - entry.since > Duration.toMillis(policy.maxAge)) {
          yield* remove()
          yield* hooks.gaveUp(entry, `still failing after ${Duration.format(policy.maxAge)} (${entry.lastError})`)
          continue
        }
        if (!flowing.has(entry.target) && (due.get(entry.target) ?? 0) > now) {
          blocked.add(entry.target)
          continue
        }
        const send = hooks.sendFor(entry.target)
        if (send === undefined) {
          blocked.add(entry.target) // the channel is not (yet) registered
          retryAfter(entry.target, now, 0)
          continue
        }
        if (stop.requested) break // a stop waits for this round: end it after the send in flight
        const sent = yield* send(entry.message).pipe(Effect.result)
        if (sent._tag === "Success") {
          yield* remove()
          flowing.add(entry.target)
          yield* hooks.delivered(entry.target)
          yield* Effect.logInfo(`outbox: delivered a kept message to ${entry.target}`).pipe(
            Effect.annotateLogs({ requestId: entry.message.requestId ?? "", attempts: entry.attempts + 1 })
          )
        } else if (sent.failure.permanent) {
          yield* remove()
          yield* hooks.gaveUp(entry, sent.failure.reason)
        } else {
          const at = entries.indexOf(entry)
          const again = { ...entry, attempts: entry.attempts + 1, lastError: sent.failure.reason }
          if (at >= 0) entries[at] = again
          yield* hooks.tried(again)
          blocked.add(entry.target)
          retryAfter(entry.target, now, entry.attempts + 1, sent.failure.retryAfterMs)
        }
      }
      for (const target of due.keys()) if (!waitingFor(target)) due.delete(target)
      yield* changed
    })

    /** Until the next target is due: at most one first retry delay (new messages are due then). */
    const nextRoundIn = Effect.map(Clock.currentTimeMillis, (now) => {
      const first = entries.reduce((min, e) => Math.min(min, due.get(e.target) ?? now), Number.POSITIVE_INFINITY)
      return Math.max(0, Math.min(first - now, Duration.toMillis(policy.retryEvery)))
    })

    const loop = yield* Effect.gen(function*() {
      while (!stop.requested) {
        yield* nonEmpty.await
        yield* Effect.sleep(yield* nextRoundIn)
        if (stop.requested) return
        stop.inRound = true
        yield* flushOnce.pipe(
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError("outbox round failed", cause)
          ),
          Effect.ensuring(Effect.sync(() => {
            stop.inRound = false
          }))
        )
      }
    }).pipe(supervised({ name: "outbox" }), Effect.forkScoped)

    /** Stop re-sending (daemon stop): once this returns, the outbox only changes by new messages. */
    const halt = Effect.suspend(() => {
      stop.requested = true
      if (!stop.inRound) return Fiber.interrupt(loop)
      // A send that hangs is cut after a while: then the message may go out twice (at least once).
      return Fiber.await(loop).pipe(Effect.timeoutOption(Duration.seconds(5)), Effect.andThen(Fiber.interrupt(loop)))
    })

    /** Stored messages handed back at start: due at once. Questions do not survive a restart: nobody waits for them. */
    const restore = (restored: ReadonlyArray<OutboxEntry>) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const e of restored) {
          if (e.message.question !== undefined) yield* hooks.forget(e)
          else {
            if (!due.has(e.target)) due.set(e.target, now)
            entries.push(e)
          }
        }
        yield* changed
      })

    const withdrawQuestion = (questionId: string) =>
      Effect.gen(function*() {
        for (let i = entries.length - 1; i >= 0; i--) {
          const entry = entries[i]!
          if (entry.message.question?.id !== questionId) continue
          entries.splice(i, 1)
          yield* hooks.forget(entry)
        }
        yield* changed
      })

    const snapshot = Effect.sync(() => ({
      entries: [...entries] as ReadonlyArray<OutboxEntry>,
      oldestSince: entries.length === 0 ? null : new Date(oldestSince()).toISOString()
    }))

    return { keep, waitingFor, halt, restore, withdrawQuestion, snapshot }
  })
