// SendOnce on the cluster's Postgres. A failed read counts as "not sent" (sending twice beats not
// sending); a failed record is logged. Keys older than a week are pruned.
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { pruneHourly } from "./tables.ts"
import { SendOnce } from "../core/SendOnce.ts"

export const pgSendOnce = Layer.effect(
  SendOnce,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* pruneHourly("send keys", sql`DELETE FROM switchboard_sent WHERE at < now() - interval '7 days'`)
    return SendOnce.of({
      sent: (key) =>
        sql<{ key: string }>`SELECT key FROM switchboard_sent WHERE key = ${key}`.pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.catch((e) => Effect.as(Effect.logWarning("could not check a send key; sending", e), false))
        ),
      record: (key) =>
        sql`INSERT INTO switchboard_sent (key) VALUES (${key}) ON CONFLICT (key) DO NOTHING`.pipe(
          Effect.asVoid,
          Effect.catch((e) => Effect.logWarning("could not record a send key", e))
        )
    })
  })
)
