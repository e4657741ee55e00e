// switchboard's own tables in the cluster's Postgres (effect/cluster creates its cluster_* ones).
import { Effect, Schedule, type Scope } from "effect"
import { type SqlError, SqlClient } from "effect/sql"

/** Daemons starting together would race on CREATE TABLE IF NOT EXISTS: one at a time, under a lock. */
const SCHEMA_LOCK = 7_420_001

export const createClusterTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const create = Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`
    // Idempotency keys of sends (`<request id>/<step>`), so a re-run turn does not send twice.
    yield* sql`CREATE TABLE IF NOT EXISTS switchboard_sent (
      key text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`
    // Every request's status and reply, readable by every daemon (GET /v1/messages/:id).
    yield* sql`CREATE TABLE IF NOT EXISTS switchboard_requests (
      id text PRIMARY KEY, source text NOT NULL, status text NOT NULL, reply text, error text,
      received_at double precision NOT NULL, started_at double precision, finished_at double precision,
      updated_at timestamptz NOT NULL DEFAULT now())`
    // What was delivered to http:* and cli:* sources, long-polled from any daemon (GET /v1/inbox/:source).
    yield* sql`CREATE TABLE IF NOT EXISTS switchboard_inbox (
      seq bigserial PRIMARY KEY, source text NOT NULL, kind text NOT NULL, request_id text, text text NOT NULL,
      at text NOT NULL, question text, created_at timestamptz NOT NULL DEFAULT now())`
    yield* sql`CREATE INDEX IF NOT EXISTS switchboard_inbox_source ON switchboard_inbox (source, seq)`
    // A re-run turn's reply carries the same key: written once, even when a daemon died between
    // writing it and recording its key in switchboard_sent.
    yield* sql`ALTER TABLE switchboard_inbox ADD COLUMN IF NOT EXISTS delivery_key text UNIQUE`
    // Each session's conversation, as the lines of a conversation file (sessions move between daemons).
    yield* sql`CREATE TABLE IF NOT EXISTS switchboard_memory (
      seq bigserial PRIMARY KEY, session text NOT NULL, conversation text NOT NULL, line text NOT NULL)`
    yield* sql`CREATE INDEX IF NOT EXISTS switchboard_memory_conversation ON switchboard_memory (session, conversation, seq)`
    yield* sql`CREATE TABLE IF NOT EXISTS switchboard_memory_current (session text PRIMARY KEY, conversation text NOT NULL)`
  })
  yield* sql.withTransaction(create)
})

/** Run `prune` (a DELETE of old rows) now and every hour for the caller's scope; a failure is logged. */
export const pruneHourly = (what: string, prune: Effect.Effect<unknown, SqlError.SqlError>): Effect.Effect<void, never, Scope.Scope> =>
  prune.pipe(
    Effect.catch((e) => Effect.logWarning(`could not prune old ${what}`, e)),
    Effect.repeat(Schedule.spaced("1 hour")),
    Effect.forkScoped,
    Effect.asVoid
  )
