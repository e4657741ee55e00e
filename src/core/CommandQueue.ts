// The queue between channels and the session: priority order, FIFO within a priority, aging,
// a cap with a clear refusal, and dedupe by the channel's message id. Each item carries its own
// source; nothing here reads ambient state. Durable: an accepted request is committed to the Store
// (with its dedupe id) before `offer` returns, so before its channel is told it was received; the
// lanes in memory are a cache of the `queue` table. A start puts every kept request back in its
// order, the one that was running included (it runs again). Relays are not stored: the system
// events they carry are, and are relayed again.
import { Clock, Context, Duration, Effect, Latch, Layer, Metric } from "effect"
import { QueueFull } from "../domain/errors.ts"
import { type Inbound, PRIORITIES, type Priority } from "../domain/model.ts"
import { effectiveRank } from "../domain/priority.ts"
import { queueDepth, queueDuplicates, queueRefused } from "../domain/metrics.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Store } from "../store/Store.ts"
import { isSeen, pruneDedupe, rememberId } from "../store/tables/dedupe.ts"
import { insertQueued, loadQueue, removeQueued, setQueueState } from "../store/tables/queue.ts"
import type { Db } from "../store/db.ts"
import { RequestLog } from "./RequestLog.ts"

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

/** A busy hour of ids is well below this; it bounds the dedupe table (~10 MB) under a flood. */
export const DEFAULT_DEDUPE_MAX = 100_000

/**
 * For the writes after a turn (put back, done): a failure is logged and recorded by the Store, and must
 * not stop the queue. The worst it leaves is a request answered again after a restart.
 */
const bestEffort = (write: Effect.Effect<void>) => Effect.catchDefect(write, () => Effect.void)

/** Expired dedupe ids are deleted every this many new ids. */
const PRUNE_EVERY = 256

export class CommandQueue extends Context.Service<CommandQueue, {
  /**
   * Accept a request, refuse it when full, or recognise it as already seen. `onAccept` runs before
   * the item becomes visible to `take`, so whatever it records is there before the turn starts.
   */
  readonly offer: (request: Inbound, onAccept?: Effect.Effect<void>) => Effect.Effect<OfferResult, QueueFull>
  /** The next item by effective priority; waits while the queue is empty. */
  readonly take: Effect.Effect<QueuedItem>
  /**
   * The best item `eligible` accepts (e.g. "its session is idle"), by the same order as `take`;
   * waits until there is one. Call `recheck` when something `eligible` reads has changed.
   */
  readonly takeWhere: (eligible: (item: QueuedItem) => boolean) => Effect.Effect<QueuedItem>
  /** Wake `takeWhere` callers so they look again (an item they passed over may be eligible now). */
  readonly recheck: Effect.Effect<void>
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
  /** Needs the Store; `recovered` is told of each request put back at start (before `take` sees it). */
  static readonly make = (options: QueueOptions, recovered: (request: Inbound) => Effect.Effect<void> = () => Effect.void) =>
    Effect.gen(function*() {
      const store = yield* Store
      const agingMs = Duration.toMillis(options.agingAfter)
      const windowMs = Duration.toMillis(options.dedupeWindow)
      const dedupeMax = options.dedupeMax ?? DEFAULT_DEDUPE_MAX
      // One FIFO lane per base priority. Within a lane the head is the oldest, so it is also the
      // lane's most-aged item: comparing the four heads is enough to pick the next one.
      const lanes: Record<Priority, Array<QueuedItem>> = { command: [], human: [], relay: [], event: [] }
      const nonEmpty = yield* Latch.make(false)
      // Opened (and replaced) on every change a `takeWhere` waiter may care about: a waiter holds the
      // latch of the moment it looked, so a change while it looked is never missed.
      const changed = { latch: Latch.makeUnsafe(false) }
      const signalChange = () => {
        const previous = changed.latch
        changed.latch = Latch.makeUnsafe(false)
        previous.openUnsafe()
      }
      yield* Metric.update(queueDepth, 0)
      yield* Metric.update(queueRefused, 0) // a series from the start, for increase() alerts
      yield* Metric.update(queueDuplicates, 0)
      const counters = { seq: 0, accepted: 0, refused: 0, duplicates: 0 }
      /** Dedupe rows, counted from above (a replaced id counts twice): the table is pruned before it passes the bound. */
      const dedupeRows = { approx: 0, sincePrune: 0 }

      const depth = () => PRIORITIES.reduce((n, p) => n + lanes[p].length, 0)

      // What the last life left: every request in its order, the running one again first in its lane.
      const startedAt = yield* Clock.currentTimeMillis
      const kept = yield* store.transaction("recover the queue", (db) => {
        const loaded = loadQueue(db)
        for (const bad of loaded.rejected) removeQueued(db, bad.id)
        db.run("UPDATE queue SET state = 'queued' WHERE state = 'running'")
        return { ...loaded, dedupe: pruneDedupe(db, startedAt, dedupeMax) }
      })
      dedupeRows.approx = kept.dedupe
      for (const bad of kept.rejected) {
        yield* Effect.logError("a stored request does not decode; dropped").pipe(
          Effect.annotateLogs({ requestId: bad.id, reason: bad.reason })
        )
      }
      for (const row of kept.items) {
        const item: QueuedItem = { request: row.request, seq: row.seq, enqueuedAt: row.enqueuedAt }
        yield* recovered(row.request)
        lanes[row.request.priority].push(item)
        counters.seq = Math.max(counters.seq, row.seq + 1)
      }
      if (kept.items.length > 0) {
        const rerun = kept.items.filter((r) => r.state === "running").map((r) => r.request.id)
        yield* Effect.logInfo(`queued ${kept.items.length} request(s) kept from the last run`).pipe(
          Effect.annotateLogs({ requestIds: kept.items.map((r) => r.request.id).join(","), runsAgain: rerun.join(",") })
        )
        yield* Metric.update(queueDepth, depth())
        nonEmpty.openUnsafe()
      }

      /** The best item `eligible` accepts: per lane the first it accepts (the lane's oldest), then as `headOrder`. */
      const bestEligible = (now: number, eligible: (item: QueuedItem) => boolean) => {
        let best: { p: Priority; at: number; item: QueuedItem; rank: number } | undefined
        for (const p of PRIORITIES) {
          const at = lanes[p].findIndex(eligible)
          if (at < 0) continue
          const item = lanes[p][at]!
          const rank = effectiveRank(p, now - item.enqueuedAt, agingMs)
          if (best === undefined || rank < best.rank || (rank === best.rank && item.seq < best.item.seq)) best = { p, at, item, rank }
        }
        return best
      }

      const headOrder = (now: number, from: Record<Priority, Array<QueuedItem>> = lanes) =>
        PRIORITIES.flatMap((p) => {
          const head = from[p][0]
          return head === undefined ? [] : [{ p, head, rank: effectiveRank(p, now - head.enqueuedAt, agingMs) }]
        }).sort((a, b) => a.rank - b.rank || a.head.seq - b.head.seq)

      const isDuplicate = (id: string) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          if (!(yield* store.read("dedupe lookup", (db) => isSeen(db, id, now)))) return false
          counters.duplicates++
          yield* Metric.update(queueDuplicates, 1)
          return true
        })

      const rememberIn = (db: Db, id: string, now: number) => {
        rememberId(db, id, now + windowMs)
        dedupeRows.approx++
        if (++dedupeRows.sincePrune >= PRUNE_EVERY || dedupeRows.approx > dedupeMax) {
          dedupeRows.approx = pruneDedupe(db, now, dedupeMax)
          dedupeRows.sincePrune = 0
        }
      }
      const remember = (id: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => store.transaction("remember an id", (db) => rememberIn(db, id, now)))

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
          // Committed before anyone is told: the channel acknowledges only after this returns.
          yield* store.transaction("queue a request", (db) => {
            if (request.priority !== "relay") insertQueued(db, request, item.seq, now)
            rememberIn(db, request.id, now)
          })
          yield* onAccept
          lanes[request.priority].push(item)
          counters.accepted++
          yield* Metric.update(queueDepth, depth())
          nonEmpty.openUnsafe()
          signalChange()
          return { _tag: "Accepted", item } as const
        })

      const anyItem = () => true
      const tryTake = (eligible: (item: QueuedItem) => boolean) => Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const next = bestEligible(now, eligible)
        if (next === undefined) return undefined
        // Marked in the store before it leaves the lane: if the write fails (a full disk), the item
        // is still queued here and the supervised dispatcher takes it again after its backoff.
        yield* store.transaction("mark a request running", (db) => setQueueState(db, next.item.request.id, "running"))
        lanes[next.p].splice(next.at, 1)
        if (depth() === 0) nonEmpty.closeUnsafe()
        yield* Metric.update(queueDepth, depth())
        return next.item
      })

      const take: Effect.Effect<QueuedItem> = Effect.flatMap(
        tryTake(anyItem),
        (item) => item !== undefined ? Effect.succeed(item) : Effect.andThen(nonEmpty.await, Effect.suspend(() => take))
      )

      const takeWhere = (eligible: (item: QueuedItem) => boolean): Effect.Effect<QueuedItem> =>
        Effect.suspend(() => {
          const seen = changed.latch
          return Effect.flatMap(
            tryTake(eligible),
            (item) => item !== undefined ? Effect.succeed(item) : Effect.andThen(seen.await, takeWhere(eligible))
          )
        })

      const putBack = (item: QueuedItem) =>
        Effect.gen(function*() {
          const lane = lanes[item.request.priority]
          // Lanes are ordered by seq; an item taken from the head goes back in front of later ones.
          const at = lane.findIndex((other) => other.seq > item.seq)
          lane.splice(at < 0 ? lane.length : at, 0, item)
          yield* bestEffort(store.transaction("put a request back", (db) => setQueueState(db, item.request.id, "queued")))
          yield* Metric.update(queueDepth, depth())
          nonEmpty.openUnsafe()
          signalChange()
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

      const complete = (item: QueuedItem) =>
        bestEffort(store.transaction("remove a finished request", (db) => removeQueued(db, item.request.id)))

      return CommandQueue.of({
        offer,
        isDuplicate,
        remember,
        take,
        takeWhere,
        recheck: Effect.sync(signalChange),
        putBack,
        complete,
        pending,
        stats
      })
    })

  /** The durable queue, configured from GatewayConfig; requests kept from the last run are in the RequestLog again. */
  static readonly layer = Layer.effect(
    CommandQueue,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const requests = yield* RequestLog
      return yield* CommandQueue.make(config.queue, requests.queued)
    })
  )
}
