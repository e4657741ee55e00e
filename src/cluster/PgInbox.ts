// SharedInbox on the cluster's Postgres: one table, a bigserial seq, the newest `keepPerSource`
// messages per source (older ones are deleted as new ones come), rows older than a week pruned.
import { Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { pruneHourly } from "./tables.ts"
import { OutboundKind } from "../domain/model.ts"
import { SharedInbox, type SharedInboxMessage } from "../core/SharedInbox.ts"

const Question = Schema.fromJsonString(Schema.Struct({ id: Schema.String, options: Schema.Array(Schema.String) }))
const Row = Schema.Struct({
  seq: Schema.Number,
  kind: OutboundKind,
  request_id: Schema.NullOr(Schema.String),
  text: Schema.String,
  at: Schema.String,
  question: Schema.NullOr(Question)
})
const decodeRows = Schema.decodeUnknownEffect(Schema.Array(Row))
const encodeQuestion = Schema.encodeSync(Question)

const toMessage = (r: typeof Row.Type): SharedInboxMessage => ({
  seq: r.seq,
  kind: r.kind,
  text: r.text,
  at: r.at,
  ...(r.request_id === null ? {} : { requestId: r.request_id }),
  ...(r.question === null ? {} : { question: r.question })
})

export const pgInbox = (keepPerSource: number) =>
  Layer.effect(
    SharedInbox,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* pruneHourly("inbox messages", sql`DELETE FROM switchboard_inbox WHERE created_at < now() - interval '7 days'`)
      const select = (rows: Effect.Effect<ReadonlyArray<unknown>, unknown>) =>
        rows.pipe(Effect.flatMap(decodeRows), Effect.map((rs) => rs.map(toMessage)))
      return SharedInbox.of({
        epoch: "cluster",
        append: (source, m, key) =>
          Effect.gen(function*() {
            const inserted = yield* select(sql`INSERT INTO switchboard_inbox (source, kind, request_id, text, at, question, delivery_key)
              VALUES (${source}, ${m.kind}, ${m.requestId ?? null}, ${m.text}, ${m.at},
                ${m.question === undefined ? null : encodeQuestion(m.question)}, ${key ?? null})
              ON CONFLICT (delivery_key) DO NOTHING
              RETURNING seq::float8 AS seq, kind, request_id, text, at, question`)
            const row = inserted[0] ?? (yield* select(sql`SELECT seq::float8 AS seq, kind, request_id, text, at, question
              FROM switchboard_inbox WHERE delivery_key = ${key ?? null}`))[0]
            if (inserted.length > 0) {
              yield* sql`DELETE FROM switchboard_inbox WHERE source = ${source} AND seq <= ${inserted[0]!.seq - keepPerSource}`
            }
            // Written before (a re-run turn's reply); gone only if the inbox was trimmed past it since.
            return row ?? { ...m, seq: 0 }
          }).pipe(Effect.orDie),
        after: (source, after, limit) =>
          select(sql`SELECT seq::float8 AS seq, kind, request_id, text, at, question FROM switchboard_inbox
            WHERE source = ${source} AND seq > ${after} ORDER BY seq LIMIT ${limit}`).pipe(
            Effect.catch((e) => Effect.as(Effect.logWarning("could not read the shared inbox", e), []))
          )
      })
    })
  )
