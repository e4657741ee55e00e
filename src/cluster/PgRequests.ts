// SharedRequests on the cluster's Postgres: every daemon writes the status of the requests it
// accepts and runs, and reads any (GET /v1/messages/:id). Rows older than a week are pruned.
import { Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { pruneHourly } from "./tables.ts"
import type { RequestRecord } from "../core/requestRecord.ts"
import { SharedRequests } from "../core/SharedRequests.ts"

const Row = Schema.Struct({
  id: Schema.String,
  source: Schema.String,
  status: Schema.Literals(["queued", "running", "done", "failed"]),
  reply: Schema.NullOr(Schema.String),
  error: Schema.NullOr(Schema.String),
  received_at: Schema.Number,
  started_at: Schema.NullOr(Schema.Number),
  finished_at: Schema.NullOr(Schema.Number)
})
const decodeRow = Schema.decodeUnknownOption(Row)

const RANK = { queued: 0, running: 1, done: 2, failed: 2 } as const

export const pgRequests = Layer.effect(
  SharedRequests,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* pruneHourly("request records", sql`DELETE FROM switchboard_requests WHERE updated_at < now() - interval '7 days'`)
    return SharedRequests.of({
      // A status never goes back: the accepting daemon's late "queued" cannot hide the runner's "done".
      write: (r) =>
        sql`INSERT INTO switchboard_requests (id, source, status, reply, error, received_at, started_at, finished_at, updated_at)
          VALUES (${r.id}, ${r.source}, ${r.status}, ${r.reply ?? null}, ${r.error ?? null}, ${r.receivedAt},
            ${r.startedAt ?? null}, ${r.finishedAt ?? null}, now())
          ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, reply = EXCLUDED.reply, error = EXCLUDED.error,
            started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at, updated_at = now()
          WHERE ${RANK[r.status]} >= (CASE switchboard_requests.status WHEN 'queued' THEN 0 WHEN 'running' THEN 1 ELSE 2 END)`.pipe(
          Effect.asVoid,
          Effect.catch((e) => Effect.logWarning("could not share a request's status", e))
        ),
      read: (id) =>
        sql`SELECT id, source, status, reply, error, received_at, started_at, finished_at
          FROM switchboard_requests WHERE id = ${id}`.pipe(
          Effect.map((rows): RequestRecord | undefined => {
            const row = rows[0] === undefined ? undefined : decodeRow(rows[0])
            if (row === undefined || row._tag === "None") return undefined
            const r = row.value
            return {
              id: r.id,
              source: r.source,
              status: r.status,
              ...(r.reply === null ? {} : { reply: r.reply }),
              ...(r.error === null ? {} : { error: r.error }),
              receivedAt: r.received_at,
              ...(r.started_at === null ? {} : { startedAt: r.started_at }),
              ...(r.finished_at === null ? {} : { finishedAt: r.finished_at })
            }
          }),
          Effect.catch((e) => Effect.as(Effect.logWarning("could not read a shared request", e), undefined))
        )
    })
  })
)
