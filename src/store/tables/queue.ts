// Queued requests: every accepted request until its reply is committed to the outbox. `state` is
// `running` while its turn runs, so the next start knows which one was cut off (it runs again).
import { Schema } from "effect"
import { Inbound } from "../../domain/model.ts"
import type { Db } from "../db.ts"

export const queueDdl = `
CREATE TABLE queue (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  priority TEXT NOT NULL,
  source TEXT NOT NULL,
  enqueued_at INTEGER NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued',
  request TEXT NOT NULL
);
CREATE INDEX queue_by_seq ON queue (seq);
`

export interface QueueRow {
  readonly request: Inbound
  readonly seq: number
  readonly enqueuedAt: number
  readonly state: "queued" | "running"
}

const encode = Schema.encodeSync(Schema.fromJsonString(Inbound))
const decode = Schema.decodeUnknownResult(Schema.fromJsonString(Inbound))

export const insertQueued = (db: Db, request: Inbound, seq: number, enqueuedAt: number) =>
  void db.run(
    "INSERT OR REPLACE INTO queue (id, seq, priority, source, enqueued_at, state, request) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
    request.id,
    seq,
    request.priority,
    request.source,
    enqueuedAt,
    encode(request)
  )

export const setQueueState = (db: Db, id: string, state: "queued" | "running") =>
  void db.run("UPDATE queue SET state = ? WHERE id = ?", state, id)

export const removeQueued = (db: Db, id: string) => void db.run("DELETE FROM queue WHERE id = ?", id)

/** Every row in enqueue order; a row that does not decode is returned as rejected (and left to the caller). */
export const loadQueue = (db: Db) => {
  const rows = db.all<{ id: string; seq: number; enqueued_at: number; state: string; request: string }>(
    "SELECT id, seq, enqueued_at, state, request FROM queue ORDER BY seq"
  )
  const items: Array<QueueRow> = []
  const rejected: Array<{ readonly id: string; readonly reason: string }> = []
  for (const row of rows) {
    const decoded = decode(row.request)
    if (decoded._tag === "Success") {
      items.push({
        request: decoded.success,
        seq: Number(row.seq),
        enqueuedAt: Number(row.enqueued_at),
        state: row.state === "running" ? "running" : "queued"
      })
    } else rejected.push({ id: row.id, reason: decoded.failure.message.split("\n")[0]! })
  }
  return { items, rejected }
}
