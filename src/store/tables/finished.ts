// Finished requests (done or failed) with their reply or error, so that `GET /v1/messages/:id`
// still answers after a restart for a request that was answered before it. Bounded: the newest
// `keep` are kept (each reply already cut to SWITCHBOARD_STORED_REPLY_BYTES).
import type { Db } from "../db.ts"

export const finishedDdl = `
CREATE TABLE finished_requests (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  status TEXT NOT NULL,
  reply TEXT,
  error TEXT,
  received_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
`

export interface FinishedRow {
  readonly id: string
  readonly source: string
  readonly status: "done" | "failed"
  readonly reply?: string | undefined
  readonly error?: string | undefined
  readonly receivedAt: number
  readonly startedAt?: number | undefined
  readonly finishedAt?: number | undefined
}

export const saveFinished = (db: Db, r: FinishedRow) =>
  void db.run(
    "INSERT OR REPLACE INTO finished_requests (id, source, status, reply, error, received_at, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    r.id,
    r.source,
    r.status,
    r.reply ?? null,
    r.error ?? null,
    r.receivedAt,
    r.startedAt ?? null,
    r.finishedAt ?? null
  )

export const findFinished = (db: Db, id: string): FinishedRow | undefined => {
  const row = db.get<{
    id: string
    source: string
    status: string
    reply: string | null
    error: string | null
    received_at: number
    started_at: number | null
    finished_at: number | null
  }>("SELECT id, source, status, reply, error, received_at, started_at, finished_at FROM finished_requests WHERE id = ?", id)
  if (row === undefined) return undefined
  return {
    id: row.id,
    source: row.source,
    status: row.status === "failed" ? "failed" : "done",
    ...(row.reply !== null ? { reply: row.reply } : {}),
    ...(row.error !== null ? { error: row.error } : {}),
    receivedAt: Number(row.received_at),
    ...(row.started_at !== null ? { startedAt: Number(row.started_at) } : {}),
    ...(row.finished_at !== null ? { finishedAt: Number(row.finished_at) } : {})
  }
}

/** Keep the newest `keep` rows. */
export const trimFinished = (db: Db, keep: number) =>
  void db.run(
    "DELETE FROM finished_requests WHERE seq <= (SELECT seq FROM finished_requests ORDER BY seq DESC LIMIT 1 OFFSET ?)",
    keep
  )
