// Pending system events (exec completions, bus events) per session key, until their relay consumed
// them. The next start finds them here and relays them to their own session.
import { Schema } from "effect"
import { Source } from "../../domain/model.ts"
import type { Db } from "../db.ts"

export const systemEventsDdl = `
CREATE TABLE system_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  session_key TEXT NOT NULL,
  event TEXT NOT NULL
);
CREATE INDEX system_events_by_key ON system_events (session_key, seq);
`

export const StoredEvent = Schema.Struct({
  id: Schema.String,
  sessionKey: Source,
  text: Schema.String,
  contextKey: Schema.optional(Schema.String),
  trusted: Schema.Boolean,
  at: Schema.Number
})
export type StoredEvent = typeof StoredEvent.Type

const encode = Schema.encodeSync(Schema.fromJsonString(StoredEvent))
const decode = Schema.decodeUnknownResult(Schema.fromJsonString(StoredEvent))

export const insertEvent = (db: Db, event: StoredEvent) =>
  void db.run("INSERT INTO system_events (id, session_key, event) VALUES (?, ?, ?)", event.id, event.sessionKey, encode(event))

export const removeEvents = (db: Db, ids: ReadonlyArray<string>) => {
  for (const id of ids) db.run("DELETE FROM system_events WHERE id = ?", id)
}

export const removeEventsOf = (db: Db, sessionKey: string) =>
  void db.run("DELETE FROM system_events WHERE session_key = ?", sessionKey)

/** Every pending event in the order it was enqueued; rows that do not decode are returned as rejected. */
export const loadEvents = (db: Db) => {
  const rows = db.all<{ seq: number; event: string }>("SELECT seq, event FROM system_events ORDER BY seq")
  const events: Array<StoredEvent> = []
  const rejected: Array<{ readonly seq: number; readonly reason: string }> = []
  for (const row of rows) {
    const decoded = decode(row.event)
    if (decoded._tag === "Success") events.push(decoded.success)
    else rejected.push({ seq: Number(row.seq), reason: decoded.failure.message.split("\n")[0]! })
  }
  return { events, rejected }
}

export const removeEventRow = (db: Db, seq: number) => void db.run("DELETE FROM system_events WHERE seq = ?", seq)
