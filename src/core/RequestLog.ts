// The lifecycle of each accepted request (queued → running → done | failed), so a sender can ask
// "what happened to my message?" (GET /v1/messages/:id) and wait for the answer. A finished
// record is also written to the Store (the newest 10,000), so the answer is still there after a
// restart; records in memory come first.
import { Clock, Context, Deferred, Effect, Layer, Metric } from "effect"
import { Store } from "../store/Store.ts"
import { findFinished, saveFinished, trimFinished } from "../store/tables/finished.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { memoryDropped } from "../domain/metrics.ts"
import type { Inbound } from "../domain/model.ts"
import { byteSize, truncateStored } from "../domain/truncate.ts"
import type { RequestRecord } from "./requestRecord.ts"
import { SharedRequests } from "./SharedRequests.ts"

export type { RequestRecord, RequestStatus } from "./requestRecord.ts"

interface Entry {
  record: RequestRecord
  readonly finished: Deferred.Deferred<void>
}

export class RequestLog extends Context.Service<RequestLog, {
  readonly queued: (request: Inbound) => Effect.Effect<void>
  readonly running: (id: string) => Effect.Effect<void>
  readonly done: (id: string, reply: string) => Effect.Effect<void>
  readonly failed: (id: string, error: string) => Effect.Effect<void>
  readonly get: (id: string) => Effect.Effect<RequestRecord | undefined>
  /** The record once it is done or failed, or as it is after waitMs. */
  readonly await: (id: string, waitMs: number) => Effect.Effect<RequestRecord | undefined>
}>()("switchboard/RequestLog") {
  /** At most `keep` records and `maxBytes` of replies and errors; each stored reply at most `maxReplyBytes`. */
  static readonly make = (options: { readonly keep: number; readonly maxBytes?: number; readonly maxReplyBytes?: number }) =>
    Effect.gen(function*() {
      // Optional: without a store (unit tests) finished records live in memory only.
      const store = yield* Effect.serviceOption(Store)
      // Cluster mode: another daemon may run the turn, so records are also shared through Postgres.
      const shared = yield* Effect.serviceOption(SharedRequests)
      const share = (record: RequestRecord) => shared._tag === "None" ? Effect.void : shared.value.write(record)
      const written = { sinceTrim: 0 }
      const entries = new Map<string, Entry>()
      const maxBytes = options.maxBytes ?? Infinity
      const maxReply = options.maxReplyBytes ?? Infinity
      const held = { bytes: 0 }
      const sizeOf = (r: RequestRecord) => byteSize(r.reply ?? "") + byteSize(r.error ?? "")

      const evict = Effect.suspend(() => {
        // Oldest first (insertion order); only finished ones, so nobody waits on a forgotten id.
        let dropped = 0
        for (const [id, entry] of entries) {
          if (entries.size <= options.keep && held.bytes <= maxBytes) break
          if (entry.record.status === "done" || entry.record.status === "failed") {
            entries.delete(id)
            held.bytes -= sizeOf(entry.record)
            dropped++
          }
        }
        return dropped === 0 ? Effect.void : Metric.update(Metric.withAttributes(memoryDropped, { store: "request_log" }), dropped)
      })

      const queued = (request: Inbound) =>
        Effect.gen(function*() {
          const record: RequestRecord = { id: request.id, source: request.source, status: "queued", receivedAt: request.receivedAt }
          const known = entries.get(request.id)
          // Known already (cluster mode: accepted here, and its turn runs here too): whoever waits keeps waiting.
          if (known !== undefined && known.record.status === "queued") return
          entries.set(request.id, { record, finished: yield* Deferred.make<void>() })
          yield* share(record)
          yield* evict
        })

      const update = (id: string, patch: (r: RequestRecord, now: number) => RequestRecord, finish: boolean) =>
        Effect.gen(function*() {
          const entry = entries.get(id)
          if (entry === undefined) return
          const now = yield* Clock.currentTimeMillis
          held.bytes -= sizeOf(entry.record)
          entry.record = patch(entry.record, now)
          held.bytes += sizeOf(entry.record)
          yield* share(entry.record)
          if (finish) {
            const record = entry.record
            const status = record.status
            if (store._tag === "Some" && (status === "done" || status === "failed")) {
              // Best effort: a failed write is recorded by the Store; the answer is in memory anyway.
              yield* store.value.transaction("keep a finished request", (db) => {
                saveFinished(db, { ...record, status })
                if (++written.sinceTrim >= 256) {
                  written.sinceTrim = 0
                  trimFinished(db, options.keep)
                }
              }).pipe(Effect.catchDefect(() => Effect.void))
            }
            yield* Deferred.succeed(entry.finished, undefined)
          }
          yield* evict
        })

      /** Not in memory: finished before the last restart (or evicted), perhaps. */
      const kept = (id: string): Effect.Effect<RequestRecord | undefined> =>
        store._tag === "None"
          ? Effect.succeed(undefined)
          : store.value.read("find a finished request", (db) => findFinished(db, id)).pipe(
            Effect.catchDefect(() => Effect.succeed(undefined))
          )

      const isFinal = (r: RequestRecord | undefined) => r !== undefined && (r.status === "done" || r.status === "failed")
      const get = (id: string) => Effect.suspend(() => {
        const record = entries.get(id)?.record
        if (shared._tag === "Some" && !isFinal(record)) {
          return Effect.flatMap(shared.value.read(id), (r) => r !== undefined ? Effect.succeed(r) : record !== undefined ? Effect.succeed(record) : kept(id))
        }
        return record !== undefined ? Effect.succeed(record) : kept(id)
      })
      /** Cluster mode: the turn may finish on another daemon, so the shared record is read again until then. */
      const awaitShared = (id: string, waitMs: number) =>
        Effect.gen(function*() {
          const deadline = (yield* Clock.currentTimeMillis) + waitMs
          while (true) {
            const record = yield* get(id)
            const left = deadline - (yield* Clock.currentTimeMillis)
            if (isFinal(record) || left <= 0) return record
            const entry = entries.get(id)
            const pause = Math.min(left, 200)
            yield* entry === undefined ? Effect.sleep(pause) : Effect.timeoutOption(Deferred.await(entry.finished), pause)
          }
        })

      return RequestLog.of({
        queued,
        running: (id) => update(id, (r, now) => ({ ...r, status: "running", startedAt: now }), false),
        done: (id, reply) =>
          update(id, (r, now) => ({ ...r, status: "done", reply: truncateStored(reply, maxReply), finishedAt: now }), true),
        failed: (id, error) =>
          update(id, (r, now) => ({ ...r, status: "failed", error: truncateStored(error, maxReply), finishedAt: now }), true),
        get,
        await: (id, waitMs) => shared._tag === "Some" ? awaitShared(id, waitMs) :
          Effect.gen(function*() {
            const entry = entries.get(id)
            if (entry === undefined) return yield* kept(id)
            if (waitMs > 0) yield* Deferred.await(entry.finished).pipe(Effect.timeoutOption(waitMs))
            return entry.record
          })
      })
    })

  /** SWITCHBOARD_REQUEST_LOG_BYTES and SWITCHBOARD_STORED_REPLY_BYTES; never more than 10,000 records. */
  static readonly layer = Layer.effect(
    RequestLog,
    GatewayConfig.use((c) =>
      RequestLog.make({ keep: 10_000, maxBytes: c.memory.requestLogBytes, maxReplyBytes: c.memory.storedReplyBytes })
    )
  )
}
