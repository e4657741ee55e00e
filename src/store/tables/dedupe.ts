// Request ids seen within the dedupe window, so a retried or redelivered message is answered once,
// also after a restart. Expired ids are pruned now and then, and the table is bounded: beyond
// `max` ids the oldest are forgotten first, whatever the window.
import type { Db } from "../db.ts"

export const dedupeDdl = `
CREATE TABLE dedupe (
  id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE INDEX dedupe_by_expiry ON dedupe (expires_at);
`

export const isSeen = (db: Db, id: string, now: number) =>
  db.get<{ one: number }>("SELECT 1 AS one FROM dedupe WHERE id = ? AND expires_at > ?", id, now) !== undefined

export const rememberId = (db: Db, id: string, expiresAt: number) =>
  void db.run("INSERT OR REPLACE INTO dedupe (id, expires_at) VALUES (?, ?)", id, expiresAt)

/** Forget expired ids, then the oldest beyond `max`. Returns how many are left. */
export const pruneDedupe = (db: Db, now: number, max: number): number => {
  db.run("DELETE FROM dedupe WHERE expires_at <= ?", now)
  const count = Number(db.get<{ n: number }>("SELECT count(*) AS n FROM dedupe")?.n ?? 0)
  if (count <= max) return count
  db.run("DELETE FROM dedupe WHERE id IN (SELECT id FROM dedupe ORDER BY expires_at, rowid LIMIT ?)", count - max)
  return max
}
