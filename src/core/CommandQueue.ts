// The queue between channels and the session: priority order, FIFO within a priority, aging,
// a cap with a clear refusal, and dedupe by the channel's message id. Each item carries its own
// source; nothing here reads ambient state. The in-memory layer lives here; a durable one
// implements the same interface.
import { Clock, Context, Duration, Effect, Latch, Layer, Metric } from "effect"
import { QueueFull } from "../domain/errors.ts"
import { type Inbound, PRIORITIES, type Priority } from "../domain/model.ts"
import { effectiveRank } from "../domain/priority.ts"
import { queueDepth, queueDuplicates, queueRefused } from "../domain/metrics.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"

export interface QueuedItem {
  readonly request: Inbound
  /** Global enqueue counter: the FIFO tie-break. */
  readonly seq: number
  readonly enqueuedAt: number
}

export type OfferResult =
  | { readonly _tag: "Accepted"; readonly item: QueuedItem }
  | { readonly _tag: "Duplicate"; readonly id: string }

export interface QueueStats {
  readonly depth: number
  readonly byPriority: Readonly<Record<Priority, number>>
  readonly oldestWaitMs: number
  readonly cap: number
  readonly accepted: number
  readonly refused: number
  readonly duplicates: number
}

export interface QueueOptions {
  readonly cap: number
  readonly agingAfter: Duration.Duration
  readonly dedupeWindow: Duration.Duration
  /** Ids remembered for dedupe at most (oldest forgotten first), whatever the window. */
  readonly dedupeMax?: number | undefined
}

/** A busy hour of ids is well below this; it bounds memory (~10 MB) under a flood. */
export const DEFAULT_DEDUPE_MAX = 100_000

export class CommandQueue extends Context.Service<CommandQueue, {
  /**
   * Accept a request, refuse it when full, or recognise it as already seen. `onAccept` runs before
   * the item becomes visible to `take`, so whatever it records is there before the turn starts.
   */
  readonly offer: (request: Inbound, onAccept?: Effect.Effect<void>) => Effect.Effect<OfferResult, QueueFull>
  /** The next item by effective priority; waits while the queue is empty. */
  readonly take: Effect.Effect<QueuedItem>
  /**
   * Whether `id` was seen within the dedupe window (counted as a duplicate when it was). For
   * requests answered without the queue (control commands, answers), which `remember` records.
   */
  readonly isDuplicate: (id: string) => Effect.Effect<boolean>
  readonly remember: (id: string) => Effect.Effect<void>
  /** Return a taken item that will not be handled (shutdown): it goes back to the head of its lane. */
  readonly putBack: (item: QueuedItem) => Effect.Effect<void>
  /** The item's reply was handed to the Router: a durable queue forgets it now. */
  readonly complete: (item: QueuedItem) => Effect.Effect<void>
  /** Items waiting, in the order `take` would return them now. */
  readonly pending: Effect.Effect<ReadonlyArray<QueuedItem>>
  readonly stats: Effect.Effect<QueueStats>
}>()("switchboard/CommandQueue") {
  static readonly make = (options: QueueOptions) =>
    Effect.gen(function*() {
      const agingMs = Duration.toMillis(options.agingAfter)
      const windowMs = Duration.toMillis(options.dedupeWindow)
      // One FIFO lane per base priority. Within a lane the head is the oldest, so it is also the
      // lane's most-aged item: comparing the four heads is enough to pick the next one.
      const lanes: Record<Priority, Array<QueuedItem>> = { command: [], human: [], relay: [], event: [] }
      const seen = new Map<string, number>() // id → expiry (ms); insertion order ≈ expiry order
      const nonEmpty = yield* Latch.make(false)
      yield* Metric.update(queueDepth, 0)
      yield* Metric.update(queueRefused, 0) // a series from the start, for increase() alerts
      yield* Metric.update(queueDuplicates, 0)
      const counters = { seq: 0, accepted: 0, refused: 0, duplicates: 0 }

      const depth = () => PRIORITIES.reduce((n, p) => n + lanes[p].length, 0)

      const forgetExpired = (now: number) => {
        for (const [id, expiry] of seen) {
          if (expiry > now) break
          seen.delete(id)
        }
      }

      const headOrder = (now: number, from: Record<Priority, Array<QueuedItem>> = lanes) =>
        PRIORITIES.flatMap((p) => {
          const head = from[p][0]
          return head === undefined ? [] : [{ p, head, rank: effectiveRank(p, now - head.enqueuedAt, agingMs) }]
        }).sort((a, b) => a.rank - b.rank || a.head.seq - b.head.seq)

      const isDuplicate = (id: string) =>
        Effect.gen(function*() {
          forgetExpired(yield* Clock.currentTimeMillis)
          if (!seen.has(id)) return false
          counters.duplicates++
          yield* Metric.update(queueDuplicates, 1)
          return true
        })

      const rememberAt = (id: string, now: number) => {
        seen.delete(id)
        seen.set(id, now + windowMs)
        for (const [old] of seen) {
          if (seen.size <= (options.dedupeMax ?? DEFAULT_DEDUPE_MAX)) break
          seen.delete(old)
        }
      }
      const remember = (id: string) => Effect.map(Clock.currentTimeMillis, (now) => rememberAt(id, now))

      const offer = (request: Inbound, onAccept: Effect.Effect<void> = Effect.void) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (yield* isDuplicate(request.id)) return { _tag: "Duplicate", id: request.id } as const
          if (depth() >= options.cap) {
            counters.refused++
            yield* Metric.update(queueRefused, 1)
            return yield* new QueueFull({ cap: options.cap })
          }
          const item: QueuedItem = { request, seq: counters.seq++, enqueuedAt: now }
          yield* onAccept
          rememberAt(request.id, now)
          lanes[request.priority].push(item)
          counters.accepted++
          yield* Metric.update(queueDepth, depth())
          nonEmpty.openUnsafe()
          return { _tag: "Accepted", item } as const
        })

      const tryTake = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const next = headOrder(now)[0]
        if (next === undefined) return undefined
        lanes[next.p].shift()
        if (depth() === 0) nonEmpty.closeUnsafe()
        yield* Metric.update(queueDepth, depth())
        return next.head
      })

      const take: Effect.Effect<QueuedItem> = Effect.flatMap(
        tryTake,
        (item) => item !== undefined ? Effect.succeed(item) : Effect.andThen(nonEmpty.await, Effect.suspend(() => take))
      )

      const putBack = (item: QueuedItem) =>
        Effect.gen(function*() {
          const lane = lanes[item.request.priority]
          // Lanes are ordered by seq; an item taken from the head goes back in front of later ones.
          const at = lane.findIndex((other) => other.seq > item.seq)
          lane.splice(at < 0 ? lane.length : at, 0, item)
          yield* Metric.update(queueDepth, depth())
          nonEmpty.openUnsafe()
        })

      const pending = Effect.map(Clock.currentTimeMillis, (now) => {
        // Simulate successive takes on a copy, so the listing matches what `take` will do.
        const copy: Record<Priority, Array<QueuedItem>> = {
          command: [...lanes.command],
          human: [...lanes.human],
          relay: [...lanes.relay],
          event: [...lanes.event]
        }
        const out: Array<QueuedItem> = []
        for (;;) {
          const first = headOrder(now, copy)[0]
          if (first === undefined) return out
          out.push(first.head)
          copy[first.p].shift()
        }
      })

      const stats = Effect.map(Clock.currentTimeMillis, (now): QueueStats => {
        const oldest = PRIORITIES.flatMap((p) => lanes[p][0]?.enqueuedAt ?? []).reduce((a, b) => Math.min(a, b), now)
        return {
          depth: depth(),
          byPriority: {
            command: lanes.command.length,
            human: lanes.human.length,
            relay: lanes.relay.length,
            event: lanes.event.length
          },
          oldestWaitMs: now - oldest,
          cap: options.cap,
          accepted: counters.accepted,
          refused: counters.refused,
          duplicates: counters.duplicates
        }
      })

      return CommandQueue.of({ offer, isDuplicate, remember, take, putBack, complete: () => Effect.void, pending, stats })
    })

  /** In-memory queue configured from GatewayConfig. */
  static readonly memory = Layer.effect(
    CommandQueue,
    GatewayConfig.use((c) => CommandQueue.make(c.queue))
  )
}
