// The one owner of what must survive a crash: one SQLite file `<state dir>/switchboard.db` through
// Node's built-in node:sqlite, in WAL mode. Its calls are synchronous, so a transaction is a single
// synchronous body: no other fiber runs in between, and it commits all or nothing. A database that
// cannot be opened, does not read as SQLite or was written by a newer schema stops the start with
// StoreUnavailable (one line); a write that fails later is recorded (/status, /health) and dies as a
// StoreFailed defect, so the caller never tells its channel "received" for what was not kept.
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs"
import { dirname, join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { Clock, Context, Effect, Layer, Metric, Schema } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import type { Durability } from "../config/store.ts"
import { type Db, makeDb } from "./db.ts"
import { MIGRATIONS, SCHEMA_VERSION, TABLES } from "./migrations.ts"
import { storeFailures, storeRows } from "./metrics.ts"
import { Persistence } from "./Persistence.ts"

/** The store cannot be used at all: the start stops with this line. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `the store ${this.path} cannot be used: ${this.reason}`
  }
}

/** A read or write of the store failed while running (disk full, I/O error). */
export class StoreFailed extends Schema.TaggedError<StoreFailed>()("StoreFailed", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `the store failed (${this.operation}): ${this.reason}`
  }
}

export interface StoreStats {
  readonly path: string
  readonly durability: Durability
  readonly schemaVersion: number
  readonly rows: Readonly<Record<string, number>>
  readonly failures: number
  /** The last write failed and none has succeeded since. */
  readonly failing: boolean
  readonly lastError: { readonly at: string; readonly operation: string; readonly message: string } | null
}

export interface StoreOptions {
  /** A file, or `:memory:` (tests). */
  readonly path: string
  readonly durability: Durability
}

const reasonOf = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** Open, check the schema version, migrate, set the durability. Throws StoreUnavailable. */
const open = (options: StoreOptions): DatabaseSync => {
  const unavailable = (reason: string) => new StoreUnavailable({ path: options.path, reason })
  let database: DatabaseSync
  try {
    if (options.path !== ":memory:") {
      mkdirSync(dirname(options.path), { recursive: true })
      // Private whatever the umask: SQLite gives the -wal and -shm files the mode of the database.
      closeSync(openSync(options.path, "a", 0o600))
      chmodSync(options.path, 0o600)
    }
    database = new DatabaseSync(options.path)
  } catch (e) {
    throw unavailable(reasonOf(e))
  }
  try {
    // The first read: a file that is not SQLite fails here ("file is not a database").
    database.exec("PRAGMA journal_mode = WAL")
    const version = Number((database.prepare("PRAGMA user_version").get() as { user_version: number }).user_version)
    if (version > SCHEMA_VERSION) {
      throw unavailable(
        `it was written by a newer switchboard (schema version ${version}; this one knows up to ${SCHEMA_VERSION})`
      )
    }
    for (const step of MIGRATIONS) {
      if (step.version <= version) continue
      database.exec("BEGIN IMMEDIATE")
      try {
        database.exec(step.sql)
        database.exec(`PRAGMA user_version = ${step.version}`)
        database.exec("COMMIT")
      } catch (e) {
        database.exec("ROLLBACK")
        throw unavailable(`migration to schema version ${step.version} (${step.what}) failed: ${reasonOf(e)}`)
      }
    }
    database.exec(`PRAGMA synchronous = ${options.durability === "power" ? "FULL" : "NORMAL"}`)
    // Another process holding the write lock briefly (a backup) is waited for, not failed at once.
    database.exec("PRAGMA busy_timeout = 2000")
    return database
  } catch (e) {
    database.close()
    throw e instanceof StoreUnavailable ? e : unavailable(reasonOf(e))
  }
}

export class Store extends Context.Service<Store, {
  readonly path: string
  readonly durability: Durability
  /**
   * Run `body` in one transaction (all or nothing). Inside another transaction it joins that one.
   * A failure is recorded and dies as StoreFailed: the caller must not acknowledge what failed.
   */
  readonly transaction: <A>(operation: string, body: (db: Db) => A) => Effect.Effect<A>
  /** Run `body` without opening a transaction (reads); failures as for `transaction`. */
  readonly read: <A>(operation: string, body: (db: Db) => A) => Effect.Effect<A>
  readonly stats: Effect.Effect<StoreStats>
}>()("switchboard/Store") {
  static readonly make = (options: StoreOptions) =>
    Effect.gen(function*() {
      const database = yield* Effect.try({
        try: () => open(options),
        catch: (e) => (e instanceof StoreUnavailable ? e : new StoreUnavailable({ path: options.path, reason: reasonOf(e) }))
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => database.isOpen && database.close()))
      const db = makeDb(database)
      // Failed writes also show in /health (persistence), beside the other state the daemon writes.
      const persistence = yield* Effect.serviceOption(Persistence)
      const health: { failures: number; failing: boolean; lastError: StoreStats["lastError"] } = {
        failures: 0,
        failing: false,
        lastError: null
      }
      yield* Metric.update(storeFailures, 0)

      const run = <A>(operation: string, body: (db: Db) => A, write: boolean): Effect.Effect<A> =>
        Effect.suspend(() => {
          const outer = write && !database.isTransaction
          try {
            if (outer) database.exec("BEGIN IMMEDIATE")
            const result = body(db)
            if (outer) database.exec("COMMIT")
            if (write && health.failing) {
              health.failing = false
              if (persistence._tag === "Some") return Effect.as(persistence.value.succeeded("store"), result)
            }
            return Effect.succeed(result)
          } catch (e) {
            if (outer && database.isTransaction) database.exec("ROLLBACK")
            const failed = new StoreFailed({ operation, reason: reasonOf(e) })
            health.failures++
            if (write) health.failing = true
            return Clock.currentTimeMillis.pipe(
              Effect.tap((now) =>
                Effect.sync(() => {
                  health.lastError = { at: new Date(now).toISOString(), operation, message: failed.reason }
                })
              ),
              Effect.andThen(Metric.update(storeFailures, 1)),
              Effect.andThen(persistence._tag === "Some" ? persistence.value.failed("store", failed.reason) : Effect.void),
              Effect.andThen(Effect.logError(failed.message)),
              Effect.andThen(Effect.die(failed))
            )
          }
        })

      const transaction = <A>(operation: string, body: (db: Db) => A) => run(operation, body, true)
      const read = <A>(operation: string, body: (db: Db) => A) => run(operation, body, false)

      const stats = Effect.gen(function*() {
        const rows: Record<string, number> = {}
        for (const table of TABLES) {
          rows[table] = yield* read("count rows", (d) =>
            Number(d.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`)?.n ?? 0))
          yield* Metric.update(Metric.withAttributes(storeRows, { table }), rows[table])
        }
        return {
          path: options.path,
          durability: options.durability,
          schemaVersion: SCHEMA_VERSION,
          rows,
          failures: health.failures,
          failing: health.failing,
          lastError: health.lastError
        } satisfies StoreStats
      })

      return Store.of({ path: options.path, durability: options.durability, transaction, read, stats })
    })

  /** `<state dir>/switchboard.db`, durability from SWITCHBOARD_DURABILITY. */
  static readonly layer = Layer.effect(
    Store,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const store = yield* Store.make({ path: join(config.stateDir, "switchboard.db"), durability: config.store.durability })
      yield* Effect.logInfo("store opened").pipe(
        Effect.annotateLogs({ path: store.path, durability: store.durability, schemaVersion: SCHEMA_VERSION })
      )
      return store
    })
  ).pipe(Layer.provideMerge(Persistence.layer))

  /** An in-memory database: for tests and harnesses that do not restart. */
  static readonly memory = Layer.effect(Store, Store.make({ path: ":memory:", durability: "process" })).pipe(
    Layer.provideMerge(Persistence.layer)
  )
}
