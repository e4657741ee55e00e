// Telegram long polling's acknowledgement state: the next offset to confirm (everything below it is
// committed to the queue) and the update ids already handed over, so that an update Telegram
// delivers again after a crash (its offset was not confirmed yet) is recognised and not answered twice.
import type { Db } from "../db.ts"

export const telegramDdl = `
CREATE TABLE telegram_offset (
  bot TEXT PRIMARY KEY,
  next_offset INTEGER NOT NULL
);
CREATE TABLE telegram_seen (
  bot TEXT NOT NULL,
  update_id INTEGER NOT NULL,
  PRIMARY KEY (bot, update_id)
);
`

export const loadOffset = (db: Db, bot: string): number | undefined => {
  const row = db.get<{ next_offset: number }>("SELECT next_offset FROM telegram_offset WHERE bot = ?", bot)
  return row === undefined ? undefined : Number(row.next_offset)
}

export const saveOffset = (db: Db, bot: string, offset: number) =>
  void db.run(
    "INSERT INTO telegram_offset (bot, next_offset) VALUES (?, ?) ON CONFLICT (bot) DO UPDATE SET next_offset = excluded.next_offset",
    bot,
    offset
  )

export const markSeen = (db: Db, bot: string, updateId: number) =>
  void db.run("INSERT OR IGNORE INTO telegram_seen (bot, update_id) VALUES (?, ?)", bot, updateId)

export const unmarkSeen = (db: Db, bot: string, updateId: number) =>
  void db.run("DELETE FROM telegram_seen WHERE bot = ? AND update_id = ?", bot, updateId)

export const wasSeen = (db: Db, bot: string, updateId: number) =>
  db.get<{ one: number }>("SELECT 1 AS one FROM telegram_seen WHERE bot = ? AND update_id = ?", bot, updateId) !== undefined

/** Keep the newest `keep` ids: older updates are below any offset Telegram would send again. */
export const trimSeen = (db: Db, bot: string, keep: number) =>
  void db.run(
    "DELETE FROM telegram_seen WHERE bot = ? AND update_id < (SELECT update_id FROM telegram_seen WHERE bot = ? ORDER BY update_id DESC LIMIT 1 OFFSET ?)",
    bot,
    bot,
    keep
  )

/** The newest `n` ids handed over, oldest first. */
export const recentSeen = (db: Db, bot: string, n: number): ReadonlyArray<number> =>
  db.all<{ update_id: number }>(
    "SELECT update_id FROM (SELECT update_id FROM telegram_seen WHERE bot = ? ORDER BY update_id DESC LIMIT ?) ORDER BY update_id",
    bot,
    n
  ).map((r) => Number(r.update_id))
