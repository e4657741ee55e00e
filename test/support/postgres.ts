// Postgres for tests: the machine's server (127.0.0.1:5432, trust auth, user postgres; PG_ADMIN_URL
// points elsewhere). A missing server skips the cluster tests on a developer's machine and fails
// them in CI (CI=true), where `.ci/run` starts it. Every test gets a database of its own, dropped
// WITH (FORCE) afterwards, so a kill -9'd daemon's open sessions cannot keep it alive.
import { Socket } from "node:net"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { SqlClient } from "effect/sql"

export const PG_ADMIN_URL = process.env["PG_ADMIN_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres"

/** True when something accepts TCP connections at PG_ADMIN_URL's host and port (1 s). */
export const postgresReachable = (url = PG_ADMIN_URL) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url)
    const socket = new Socket().setTimeout(1000)
    socket
      .once("connect", () => {
        socket.destroy()
        resolve(true)
      })
      .once("error", () => resolve(false))
      .once("timeout", () => {
        socket.destroy()
        resolve(false)
      })
      .connect(Number(port || 5432), hostname)
  })

/**
 * Whether a test file should skip for want of Postgres: only outside CI. In CI the tests run and
 * fail on the first connection, which is the point (a missing service must not pass as green).
 */
export const skipWithoutPostgres = async (label: string): Promise<boolean> => {
  if (await postgresReachable()) return false
  if (process.env["CI"] === "true") return false
  console.warn(`${label} SKIPPED: no Postgres at ${PG_ADMIN_URL} (set PG_ADMIN_URL, or run .ci/run)`)
  return true
}

/** Run `f` with a short-lived client on `url`; rows as the driver returns them (int8 as BigInt). */
export const withSql = <A>(url: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(
    Effect.scoped(SqlClient.SqlClient.use(f)).pipe(
      Effect.provide(PgClient.layer({ url: Redacted.make(url), applicationName: "switchboard-test" }))
    ) as Effect.Effect<A, unknown>
  )

/** One statement on `url`, its rows. */
export const query = <T extends object = Record<string, unknown>>(url: string, statement: string) =>
  withSql(url, (sql) => sql.unsafe<T>(statement))

export interface FreshDatabase {
  readonly name: string
  readonly url: string
  /** DROP DATABASE … WITH (FORCE): ends the sessions still on it (daemons, a kill -9'd one's). */
  readonly drop: () => Promise<void>
}

/** A uniquely named, empty database on the admin server. */
export const freshDatabase = async (prefix = "switchboard_test"): Promise<FreshDatabase> => {
  const name = `${prefix}_${Date.now().toString(36)}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`database name ${name}: lower case letters, digits and _ only`)
  await query(PG_ADMIN_URL, `CREATE DATABASE ${name}`)
  const url = new URL(PG_ADMIN_URL)
  url.pathname = `/${name}`
  return {
    name,
    url: url.href,
    drop: async () => {
      await query(PG_ADMIN_URL, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    }
  }
}

/** A fresh database for the duration of an Effect scope. */
export const freshDatabaseScoped = (prefix?: string) =>
  Effect.acquireRelease(
    Effect.promise(() => freshDatabase(prefix)),
    (db) => Effect.promise(db.drop)
  )
