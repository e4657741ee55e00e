// What Telegram polling keeps in the Store: the offset to confirm next (everything below it is
// committed to the queue) and the update ids already handed over. A start asks Telegram from that
// offset, so what was confirmed is not fetched again, and recognises a redelivered update (one
// whose offset the crash left unconfirmed) by its id.
import { Effect } from "effect"
import type { Store } from "../../store/Store.ts"
import { loadOffset, markSeen, recentSeen, saveOffset, trimSeen, unmarkSeen } from "../../store/tables/telegram.ts"

export interface TelegramKept {
  /** The offset the last run had handed over up to, if any. */
  readonly offset: number | undefined
  /** The newest update ids the last run handed over, oldest first. */
  readonly seen: ReadonlyArray<number>
  readonly saveOffset: (offset: number) => Effect.Effect<void>
  readonly see: (updateId: number) => Effect.Effect<void>
  readonly unsee: (updateId: number) => Effect.Effect<void>
}

/** Old ids are trimmed every this many new ones. */
const TRIM_EVERY = 100

/** `bot` keys the rows (the bot id of the token), so a new token does not inherit another bot's offset. */
export const telegramKept = (store: Store["Service"], bot: string, remember: number) =>
  Effect.gen(function*() {
    const offset = yield* store.read("load the telegram offset", (db) => loadOffset(db, bot))
    const seen = yield* store.read("load telegram update ids", (db) => recentSeen(db, bot, remember))
    const counter = { sinceTrim: 0 }
    return {
      offset,
      seen,
      saveOffset: (next) => store.transaction("save the telegram offset", (db) => saveOffset(db, bot, next)),
      see: (updateId) =>
        store.transaction("remember a telegram update id", (db) => {
          markSeen(db, bot, updateId)
          if (++counter.sinceTrim >= TRIM_EVERY) {
            counter.sinceTrim = 0
            trimSeen(db, bot, remember)
          }
        }),
      unsee: (updateId) => store.transaction("forget a telegram update id", (db) => unmarkSeen(db, bot, updateId))
    } satisfies TelegramKept
  })
