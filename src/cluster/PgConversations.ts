// SharedConversations on the cluster's Postgres: one row per conversation line (switchboard_memory)
// and the current conversation per session (switchboard_memory_current). A failure here fails the
// turn (the daemon log has the cause): a turn must not run on a history it could not read, nor
// pretend its messages were kept.
import { Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { SharedConversations } from "../core/SharedConversations.ts"

const Head = Schema.Array(Schema.Struct({ conversation: Schema.String, seq: Schema.Number }))
const Lines = Schema.Array(Schema.Struct({ line: Schema.String, seq: Schema.Number }))
const Seq = Schema.Array(Schema.Struct({ seq: Schema.Number }))

export const pgConversations = Layer.effect(
  SharedConversations,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return SharedConversations.of({
      head: (session) =>
        sql`SELECT c.conversation, coalesce((SELECT max(m.seq) FROM switchboard_memory m
              WHERE m.session = c.session AND m.conversation = c.conversation), 0)::float8 AS seq
            FROM switchboard_memory_current c WHERE c.session = ${session}`.pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(Head)),
          Effect.map((rows) => rows[0]),
          Effect.orDie
        ),
      lines: (session, conversation) =>
        sql`SELECT line, seq::float8 AS seq FROM switchboard_memory
            WHERE session = ${session} AND conversation = ${conversation} ORDER BY seq`.pipe(
          Effect.flatMap(Schema.decodeUnknownEffect(Lines)),
          Effect.map((rows) => ({ lines: rows.map((r) => r.line), seq: rows.at(-1)?.seq ?? 0 })),
          Effect.orDie
        ),
      append: (session, conversation, lines) =>
        sql.withTransaction(Effect.forEach(lines, (line) =>
          sql`INSERT INTO switchboard_memory (session, conversation, line) VALUES (${session}, ${conversation}, ${line})
              RETURNING seq::float8 AS seq`.pipe(Effect.flatMap(Schema.decodeUnknownEffect(Seq)))
        )).pipe(
          Effect.map((rows) => rows.at(-1)?.[0]?.seq ?? 0),
          Effect.orDie
        ),
      start: (session, conversation) =>
        sql`INSERT INTO switchboard_memory_current (session, conversation) VALUES (${session}, ${conversation})
            ON CONFLICT (session) DO UPDATE SET conversation = EXCLUDED.conversation`.pipe(Effect.asVoid, Effect.orDie)
    })
  })
)
