// Per-session-key queues of system events (exec completions, bus events) waiting to be relayed
// to their own session. The key is where the event belongs and where its relay is delivered.
// Durable: each event is committed to the Store when it is enqueued (before its sender is told)
// and deleted when its relay consumed it (or it was dropped); the maps here are a cache. A start
// loads what is left, and `relayKept` wakes the heartbeat for each session key that has some.
import { Clock, Context, Effect, Layer, Metric, Schema } from "effect"
import { memoryDropped } from "../domain/metrics.ts"
import { Store } from "../store/Store.ts"
import { insertEvent, loadEvents, removeEventRow, removeEvents, removeEventsOf } from "../store/tables/systemEvents.ts"
import { HeartbeatWake } from "./HeartbeatWake.ts"
import { isSource } from "../domain/source.ts"
import { byteSize } from "../domain/truncate.ts"
import { systemEventsDropped, systemEventsEnqueued, systemEventsSkipped } from "./metrics.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"

/** Too many chats have events waiting: a new chat's event is refused (its sender is told). */
export class SystemEventsFull extends Schema.TaggedError<SystemEventsFull>()("SystemEventsFull", {
  maxKeys: Schema.Number
}) {
  override get message() {
    return `${this.maxKeys} chats already have system events waiting; try again once they are relayed`
  }
}

/** Chats with pending events at most (each bounded by perKey): memory stays bounded. */
export const DEFAULT_MAX_KEYS = 10_000

import type { SystemEvent } from "./systemEvent.ts"

export type { SystemEvent }

export interface EnqueueOptions {
  readonly contextKey?: string | undefined
  /** Default false: text is labelled untrusted unless the caller vouches for it. */
  readonly trusted?: boolean | undefined
}

export interface SystemEventsStats {
  /** Pending events per session key (keys with none are left out). */
  readonly pending: Readonly<Record<string, number>>
  /** Events dropped because their key's queue was full, in total and per key. */
  readonly dropped: number
  readonly droppedByKey: Readonly<Record<string, number>>
  readonly enqueued: number
  readonly skipped: number
  readonly perKey: number
}

export class SystemEvents extends Context.Service<SystemEvents, {
  /**
   * Returns the event, or undefined when it was skipped: it repeats the previous pending event's
   * text, its text is empty, or the session key is not `<channel>:<peer>` (logged).
   */
  readonly enqueue: (
    sessionKey: string,
    text: string,
    options?: EnqueueOptions
  ) => Effect.Effect<SystemEvent | undefined, SystemEventsFull>
  readonly peek: (sessionKey: string) => Effect.Effect<ReadonlyArray<SystemEvent>>
  /** Remove exactly the inspected events; ones that arrived since stay. */
  readonly consume: (sessionKey: string, inspected: ReadonlyArray<string>) => Effect.Effect<void>
  readonly drain: (sessionKey: string) => Effect.Effect<ReadonlyArray<SystemEvent>>
  readonly stats: Effect.Effect<SystemEventsStats>
}>()("switchboard/SystemEvents") {
  /** Needs the Store: what the last run left pending is loaded first. */
  static readonly make = (options: {
    readonly perKey: number
    readonly maxKeys?: number | undefined
    /** Bytes of pending texts of all keys together: beyond it the oldest event (of any key) is dropped. */
    readonly maxBytes?: number | undefined
  }) =>
    Effect.gen(function*() {
      const store = yield* Store
      const queues = new Map<string, Array<SystemEvent>>()
      const maxBytes = options.maxBytes ?? Infinity
      const held = { bytes: 0 }
      const sizeOf = (e: SystemEvent) => byteSize(e.text)
      const seqOf = (e: SystemEvent) => Number(e.id.slice("sev-".length))
      /** The oldest pending event of all keys (never `keep`), removed; its key's queue too when empty. */
      const dropOldest = (keep: SystemEvent): SystemEvent | undefined => {
        let oldest: SystemEvent | undefined
        for (const queue of queues.values()) {
          const head = queue[0]
          if (head !== undefined && head !== keep && (oldest === undefined || seqOf(head) < seqOf(oldest))) oldest = head
        }
        if (oldest === undefined) return undefined
        const queue = queues.get(oldest.sessionKey)!
        queue.shift()
        if (queue.length === 0) queues.delete(oldest.sessionKey)
        held.bytes -= sizeOf(oldest)
        return oldest
      }
      const droppedByKey = new Map<string, number>()
      const counters = { seq: 0, dropped: 0, enqueued: 0, skipped: 0 }

      const kept = yield* store.read("load system events", loadEvents)
      for (const bad of kept.rejected) {
        yield* store.transaction("drop a system event", (db) => removeEventRow(db, bad.seq))
        yield* Effect.logError("a stored system event does not decode; dropped").pipe(
          Effect.annotateLogs({ seq: bad.seq, reason: bad.reason })
        )
      }
      for (const event of kept.events) {
        const queue = queues.get(event.sessionKey) ?? []
        queue.push(event)
        queues.set(event.sessionKey, queue)
        held.bytes += sizeOf(event)
        // Ids go on from the highest kept one, so a new event never takes a kept event's id.
        counters.seq = Math.max(counters.seq, seqOf(event) || 0)
      }
      if (kept.events.length > 0) {
        yield* Effect.logInfo(`${kept.events.length} system event(s) kept from the last run wait for their relay`).pipe(
          Effect.annotateLogs({ sessionKeys: [...queues.keys()].join(",") })
        )
      }

      const skip = (why: string, sessionKey: string) =>
        Effect.sync(() => counters.skipped++).pipe(
          Effect.andThen(Metric.update(Metric.withAttributes(systemEventsSkipped, { why }), 1)),
          Effect.andThen(
            why === "invalid_key"
              ? Effect.logWarning("system event without a valid session key dropped").pipe(
                Effect.annotateLogs({ sessionKey })
              )
              : Effect.void
          ),
          Effect.as(undefined)
        )

      const enqueue = (sessionKey: string, text: string, opts: EnqueueOptions = {}) =>
        Effect.gen(function*() {
          // Without its key an event would be relayed to the wrong chat, or to none (OpenClaw #14191).
          if (!isSource(sessionKey)) return yield* skip("invalid_key", sessionKey)
          const cleaned = text.trim()
          if (cleaned.length === 0) return yield* skip("empty", sessionKey)
          const queue = queues.get(sessionKey) ?? []
          if (queue.at(-1)?.text === cleaned) return yield* skip("duplicate", sessionKey)
          const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS
          if (queue.length === 0 && queues.size >= maxKeys) {
            yield* skip("too_many_keys", sessionKey)
            return yield* new SystemEventsFull({ maxKeys })
          }
          const event: SystemEvent = {
            id: `sev-${++counters.seq}`,
            sessionKey,
            text: cleaned,
            ...(opts.contextKey !== undefined ? { contextKey: opts.contextKey } : {}),
            trusted: opts.trusted === true,
            at: yield* Clock.currentTimeMillis
          }
          queue.push(event)
          queues.set(sessionKey, queue)
          counters.enqueued++
          yield* Metric.update(systemEventsEnqueued, 1)
          held.bytes += sizeOf(event)
          const gone: Array<string> = []
          if (queue.length > options.perKey) {
            const dropped = queue.splice(0, queue.length - options.perKey)
            gone.push(...dropped.map((d) => d.id))
            for (const d of dropped) held.bytes -= sizeOf(d)
            counters.dropped += dropped.length
            droppedByKey.set(sessionKey, (droppedByKey.get(sessionKey) ?? 0) + dropped.length)
            yield* Metric.update(systemEventsDropped, dropped.length)
            yield* Effect.logWarning("system event queue full: dropped the oldest").pipe(
              Effect.annotateLogs({ sessionKey, dropped: dropped.length, perKey: options.perKey })
            )
          }
          const overBudget: Array<SystemEvent> = []
          while (held.bytes > maxBytes) {
            const d = dropOldest(event)
            if (d === undefined) break
            overBudget.push(d)
            gone.push(d.id)
            counters.dropped++
            droppedByKey.set(d.sessionKey, (droppedByKey.get(d.sessionKey) ?? 0) + 1)
          }
          if (overBudget.length > 0) {
            yield* Metric.update(systemEventsDropped, overBudget.length)
            yield* Metric.update(Metric.withAttributes(memoryDropped, { store: "system_events" }), overBudget.length)
            yield* Effect.logWarning("system events over their byte budget: dropped the oldest").pipe(
              Effect.annotateLogs({ dropped: overBudget.length, maxBytes })
            )
          }
          // Committed before the sender is told; what was dropped for it leaves in the same transaction.
          yield* store.transaction("enqueue a system event", (db) => {
            insertEvent(db, event)
            removeEvents(db, gone)
          })
          return event
        })

      const peek = (sessionKey: string) => Effect.sync(() => [...(queues.get(sessionKey) ?? [])])

      const consume = (sessionKey: string, inspected: ReadonlyArray<string>) =>
        Effect.suspend(() => {
          const queue = queues.get(sessionKey)
          if (queue === undefined) return Effect.void
          const ids = new Set(inspected)
          const gone = queue.filter((e) => ids.has(e.id)).map((e) => e.id)
          return store.transaction("consume system events", (db) => removeEvents(db, gone)).pipe(
            Effect.andThen(Effect.sync(() => {
              const rest = queue.filter((e) => !ids.has(e.id))
              for (const e of queue) if (ids.has(e.id)) held.bytes -= sizeOf(e)
              if (rest.length === 0) queues.delete(sessionKey)
              else queues.set(sessionKey, rest)
            }))
          )
        })

      const drain = (sessionKey: string) =>
        store.transaction("drain system events", (db) => removeEventsOf(db, sessionKey)).pipe(
          Effect.andThen(Effect.sync(() => {
            const queue = queues.get(sessionKey) ?? []
            queues.delete(sessionKey)
            for (const e of queue) held.bytes -= sizeOf(e)
            return queue
          }))
        )

      const stats = Effect.sync((): SystemEventsStats => ({
        pending: Object.fromEntries([...queues].map(([k, q]) => [k, q.length])),
        dropped: counters.dropped,
        droppedByKey: Object.fromEntries(droppedByKey),
        enqueued: counters.enqueued,
        skipped: counters.skipped,
        perKey: options.perKey
      }))

      return SystemEvents.of({ enqueue, peek, consume, drain, stats })
    })

  /** Bounded per key by SWITCHBOARD_SYSTEM_EVENTS_PER_KEY, in all by SWITCHBOARD_SYSTEM_EVENTS_BYTES. Needs only GatewayConfig: composable below the Session. */
  static readonly layer = Layer.effect(
    SystemEvents,
    GatewayConfig.use((c) => SystemEvents.make({ perKey: c.heartbeat.eventsPerKey, maxBytes: c.memory.systemEventsBytes }))
  )

  /** At start: wake the heartbeat for every session key with events kept from the last run, so they are relayed. */
  static readonly relayKept = Layer.effectDiscard(
    Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      for (const sessionKey of Object.keys((yield* events.stats).pending)) {
        yield* wake.request({ reason: "exec-event", sessionKey })
      }
    })
  )
}
