// The Router's outbox, write-ahead: a message is committed here before its channel is asked to
// send it, and deleted only once the channel confirmed the send (or refused it for good). A reply
// is committed in the same transaction that removes its request from the queue, so a crash leaves
// one or the other, never neither. What a start finds here is sent again, in order per target.
import { Schema } from "effect"
import { OutboundKind, Source } from "../../domain/model.ts"
import type { Db } from "../db.ts"

export const outboxDdl = `
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  message TEXT NOT NULL,
  since INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT ''
);
`

export const StoredMessage = Schema.Struct({
  kind: OutboundKind,
  text: Schema.String,
  requestId: Schema.optional(Schema.String),
  question: Schema.optional(Schema.Struct({ id: Schema.String, options: Schema.Array(Schema.String) })),
  expiresAt: Schema.optional(Schema.Number),
  deliveryKey: Schema.optional(Schema.String)
})
export type StoredMessage = typeof StoredMessage.Type

export interface OutboxRow {
  readonly seq: number
  readonly target: string
  readonly message: StoredMessage
  readonly since: number
  readonly attempts: number
  readonly lastError: string
}

const encode = Schema.encodeSync(Schema.fromJsonString(StoredMessage))
const decode = Schema.decodeUnknownResult(Schema.fromJsonString(StoredMessage))
const isTarget = Schema.is(Source)

/** Returns the row's seq: the key of the entry from now on. */
export const insertOutbox = (db: Db, row: Omit<OutboxRow, "seq">): number =>
  Number(
    db.run(
      "INSERT INTO outbox (target, message, since, attempts, last_error) VALUES (?, ?, ?, ?, ?)",
      row.target,
      encode(row.message),
      row.since,
      row.attempts,
      row.lastError
    ).lastInsertRowid
  )

export const updateOutboxAttempt = (db: Db, seq: number, attempts: number, lastError: string) =>
  void db.run("UPDATE outbox SET attempts = ?, last_error = ? WHERE seq = ?", attempts, lastError, seq)

export const removeOutbox = (db: Db, seq: number) => void db.run("DELETE FROM outbox WHERE seq = ?", seq)

/** Every row, oldest first; rows that do not decode are returned as rejected. */
export const loadOutbox = (db: Db) => {
  const rows = db.all<{ seq: number; target: string; message: string; since: number; attempts: number; last_error: string }>(
    "SELECT seq, target, message, since, attempts, last_error FROM outbox ORDER BY seq"
  )
  const entries: Array<OutboxRow> = []
  const rejected: Array<{ readonly seq: number; readonly reason: string }> = []
  for (const row of rows) {
    const message = decode(row.message)
    if (message._tag === "Success" && isTarget(row.target)) {
      entries.push({
        seq: Number(row.seq),
        target: row.target,
        message: message.success,
        since: Number(row.since),
        attempts: Number(row.attempts),
        lastError: row.last_error
      })
    } else {
      rejected.push({
        seq: Number(row.seq),
        reason: message._tag === "Failure" ? message.failure.message.split("\n")[0]! : `not a target: ${row.target}`
      })
    }
  }
  return { entries, rejected }
}
