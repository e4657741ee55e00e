// The lifecycle of each accepted request (queued → running → done | failed), so a sender can ask
// "what happened to my message?" (GET /v1/messages/:id) and wait for the answer.
import { Clock, Context, Deferred, Effect, Layer } from "effect"
import type { Inbound } from "../domain/model.ts"

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
  static readonly make = (options: { readonly keep: number }) =>
    Effect.gen(function*() {
      const entries = new Map<string, Entry>()

      const evict = () => {
        // Oldest first (insertion order); only finished ones, so nobody waits on a forgotten id.
        for (const [id, entry] of entries) {
          if (entries.size <= options.keep) return
          if (entry.record.status === "done" || entry.record.status === "failed") entries.delete(id)
        }
      }

      const queued = (request: Inbound) =>
        Effect.map(Deferred.make<void>(), (finished) => {
          entries.set(request.id, {
            record: { id: request.id, source: request.source, status: "queued", receivedAt: request.receivedAt },
            finished
          })
          evict()
        })

      const update = (id: string, patch: (r: RequestRecord, now: number) => RequestRecord, finish: boolean) =>
        Effect.gen(function*() {
          const entry = entries.get(id)
          if (entry === undefined) return
          const now = yield* Clock.currentTimeMillis
          entry.record = patch(entry.record, now)
          if (finish) yield* Deferred.succeed(entry.finished, undefined)
        })

      const get = (id: string) => Effect.sync(() => entries.get(id)?.record)

      return RequestLog.of({
        queued,
        running: (id) => update(id, (r, now) => ({ ...r, status: "running", startedAt: now }), false),
        done: (id, reply) => update(id, (r, now) => ({ ...r, status: "done", reply, finishedAt: now }), true),
        failed: (id, error) => update(id, (r, now) => ({ ...r, status: "failed", error, finishedAt: now }), true),
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

  static readonly layer = Layer.effect(RequestLog, RequestLog.make({ keep: 10_000 }))
}
