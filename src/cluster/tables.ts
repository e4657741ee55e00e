// switchboard's own tables in the cluster's Postgres (effect/cluster creates its cluster_* ones).
import { Effect } from "effect"
import { SqlClient } from "effect/sql"

export const createClusterTables = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Idempotency keys of sends (`<request id>/<step>`), so a re-run turn does not send twice.
  yield* sql`CREATE TABLE IF NOT EXISTS switchboard_sent (
    key text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`
  // Every request's status and reply, readable by every daemon (GET /v1/messages/:id).
  yield* sql`CREATE TABLE IF NOT EXISTS switchboard_requests (
    id text PRIMARY KEY, source text NOT NULL, status text NOT NULL, reply text, error text,
    received_at double precision NOT NULL, started_at double precision, finished_at double precision,
    updated_at timestamptz NOT NULL DEFAULT now())`
})
