// The lifecycle of each accepted request (queued → running → done | failed), so a sender can ask
// "what happened to my message?" (GET /v1/messages/:id) and wait for the answer.
import { Clock, Context, Deferred, Effect, Layer, Metric } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { memoryDropped } from "../domain/metrics.ts"
import type { Inbound } from "../domain/model.ts"
import { byteSize, truncateStored } from "../domain/truncate.ts"

export type RequestStatus = "queued" | "running" | "done" | "failed"

export interface RequestRecord {
  readonly id: string
  readonly source: string
  readonly status: RequestStatus
  readonly reply?: string | undefined
  readonly error?: string | undefined
  readonly receivedAt: number
  readonly startedAt?: number | undefined
  readonly finishedAt?: number | undefined
}

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
        Effect.map(Deferred.make<void>(), (finished) => {
          entries.set(request.id, {
            record: { id: request.id, source: request.source, status: "queued", receivedAt: request.receivedAt },
            finished
          })
        }).pipe(Effect.andThen(evict))

      const update = (id: string, patch: (r: RequestRecord, now: number) => RequestRecord, finish: boolean) =>
        Effect.gen(function*() {
          const entry = entries.get(id)
          if (entry === undefined) return
          const now = yield* Clock.currentTimeMillis
          held.bytes -= sizeOf(entry.record)
          entry.record = patch(entry.record, now)
          held.bytes += sizeOf(entry.record)
          if (finish) yield* Deferred.succeed(entry.finished, undefined)
          yield* evict
        })

      const get = (id: string) => Effect.sync(() => entries.get(id)?.record)

      return RequestLog.of({
        queued,
        running: (id) => update(id, (r, now) => ({ ...r, status: "running", startedAt: now }), false),
        done: (id, reply) =>
          update(id, (r, now) => ({ ...r, status: "done", reply: truncateStored(reply, maxReply), finishedAt: now }), true),
        failed: (id, error) =>
          update(id, (r, now) => ({ ...r, status: "failed", error: truncateStored(error, maxReply), finishedAt: now }), true),
        get,
        await: (id, waitMs) =>
          Effect.gen(function*() {
            const entry = entries.get(id)
            if (entry === undefined) return undefined
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
