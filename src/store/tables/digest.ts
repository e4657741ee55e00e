// Items waiting for the next digest, per target chat, and how many were dropped for it (beyond the
// per-target bound the oldest go first) since its last digest. A restart keeps both: the hour's
// flaps are not forgotten because the daemon was restarted in it.
import type { Db } from "../db.ts"

export const digestDdl = `
CREATE TABLE digest (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  target TEXT NOT NULL,
  grp TEXT NOT NULL,
  severity TEXT NOT NULL,
  at INTEGER NOT NULL,
  text TEXT NOT NULL,
  why TEXT NOT NULL
);
CREATE INDEX digest_by_target ON digest (target, seq);
CREATE TABLE digest_dropped (
  target TEXT PRIMARY KEY,
  dropped INTEGER NOT NULL
);
`

export interface DigestRow {
  readonly seq: number
  readonly target: string
  readonly grp: string
  readonly severity: string
  readonly at: number
  readonly text: string
  readonly why: string
}

/** Add one item; beyond `max` for its target the oldest are deleted and counted as dropped. */
export const addDigestItem = (db: Db, row: Omit<DigestRow, "seq">, max: number): void => {
  db.run(
    "INSERT INTO digest (target, grp, severity, at, text, why) VALUES (?, ?, ?, ?, ?, ?)",
    row.target, row.grp, row.severity, row.at, row.text, row.why
  )
  const count = Number(db.get<{ n: number }>("SELECT count(*) AS n FROM digest WHERE target = ?", row.target)?.n ?? 0)
  if (count <= max) return
  const over = count - max
  db.run("DELETE FROM digest WHERE seq IN (SELECT seq FROM digest WHERE target = ? ORDER BY seq LIMIT ?)", row.target, over)
  db.run(
    "INSERT INTO digest_dropped (target, dropped) VALUES (?, ?) ON CONFLICT (target) DO UPDATE SET dropped = dropped + excluded.dropped",
    row.target, over
  )
}

/** Everything waiting, oldest first, and the drop counts. */
export const digestRows = (db: Db) => ({
  items: db.all<DigestRow>("SELECT seq, target, grp, severity, at, text, why FROM digest ORDER BY seq"),
  dropped: db.all<{ target: string; dropped: number }>("SELECT target, dropped FROM digest_dropped")
})

/** What a digest showed: its items up to `upToSeq`, and the drop count it reported. */
export const removeDigest = (db: Db, target: string, upToSeq: number, dropped: number): void => {
  db.run("DELETE FROM digest WHERE target = ? AND seq <= ?", target, upToSeq)
  db.run("UPDATE digest_dropped SET dropped = max(0, dropped - ?) WHERE target = ?", dropped, target)
  db.run("DELETE FROM digest_dropped WHERE target = ? AND dropped = 0", target)
}

export const digestSize = (db: Db): number => Number(db.get<{ n: number }>("SELECT count(*) AS n FROM digest")?.n ?? 0)
