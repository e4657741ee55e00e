// The store's schema, as versioned steps. The database's `PRAGMA user_version` says which steps it
// has; a start applies the missing ones in order, each in a transaction of its own. Never edit a
// step that has shipped: add the next one.
import { dedupeDdl } from "./tables/dedupe.ts"
import { digestDdl } from "./tables/digest.ts"
import { finishedDdl } from "./tables/finished.ts"
import { outboxDdl } from "./tables/outbox.ts"
import { queueDdl } from "./tables/queue.ts"
import { systemEventsDdl } from "./tables/systemEvents.ts"
import { telegramDdl } from "./tables/telegram.ts"

export interface Migration {
  readonly version: number
  readonly what: string
  readonly sql: string
}

export const MIGRATIONS: ReadonlyArray<Migration> = [
  { version: 1, what: "queue and dedupe ids", sql: queueDdl + dedupeDdl },
  { version: 2, what: "outbox", sql: outboxDdl },
  { version: 3, what: "digest items", sql: digestDdl },
  { version: 4, what: "system events and the Telegram offset", sql: systemEventsDdl + telegramDdl },
  { version: 5, what: "finished requests", sql: finishedDdl }
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

/** The table names of the current schema, for the row counts of /status. */
export const TABLES = ["queue", "dedupe", "outbox", "digest", "system_events", "telegram_seen", "finished_requests"] as const
