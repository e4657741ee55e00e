// The store on real SQLite files in temp dirs: schema versions (an old file is upgraded, a newer or
// a garbage file refused with one line), the durability setting as SQLite reports it, and the
// queue and dedupe tables: round trip, order, and what a reopen after a crash finds.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import type { Inbound } from "../../src/domain/model.ts"
import { MIGRATIONS, SCHEMA_VERSION } from "../../src/store/migrations.ts"
import { Store, type StoreOptions } from "../../src/store/Store.ts"
import { isSeen, pruneDedupe, rememberId } from "../../src/store/tables/dedupe.ts"
import { findFinished, saveFinished, trimFinished } from "../../src/store/tables/finished.ts"
import { insertQueued, loadQueue, removeQueued, setQueueState } from "../../src/store/tables/queue.ts"
import { tempStateDir } from "../support/harness.ts"

/** A store open in a scope of its own, so a test can close it (a stop) or just open another (a crash). */
const openStore = (options: StoreOptions) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const store = yield* Store.make(options).pipe(Scope.provide(scope))
    return { store, close: Scope.close(scope, Exit.void) }
  })

const request = (id: string, priority: Inbound["priority"] = "human"): Inbound => ({
  id,
  source: "http:a",
  text: `text of ${id}`,
  priority,
  receivedAt: 7
})

const pragma = (path: string, name: string) => {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return Object.values(db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown>)[0]
  } finally {
    db.close()
  }
}

describe("the store's schema", () => {
  it.effect("a new file gets the current schema version, in WAL mode", () =>
    Effect.gen(function*() {
      const path = join(yield* tempStateDir, "nested", "switchboard.db")
      const { store, close } = yield* openStore({ path, durability: "process" })
      assert.strictEqual((yield* store.stats).schemaVersion, SCHEMA_VERSION)
      yield* close
      assert.strictEqual(pragma(path, "user_version"), SCHEMA_VERSION)
      assert.strictEqual(pragma(path, "journal_mode"), "wal")
    }))

  it.effect("a file of the first schema version is upgraded, its rows kept", () =>
    Effect.gen(function*() {
      const path = join(yield* tempStateDir, "switchboard.db")
      const old = new DatabaseSync(path)
      old.exec(MIGRATIONS[0]!.sql)
      old.exec("PRAGMA user_version = 1")
      old.prepare("INSERT INTO dedupe (id, expires_at) VALUES ('kept', 9999999999999)").run()
      old.close()
      const { store, close } = yield* openStore({ path, durability: "process" })
      assert.strictEqual((yield* store.stats).rows["dedupe"], 1)
      yield* close
      assert.strictEqual(pragma(path, "user_version"), SCHEMA_VERSION)
    }))

  it.effect("a file of a newer schema version is refused with one line saying so", () =>
    Effect.gen(function*() {
      const path = join(yield* tempStateDir, "switchboard.db")
      const newer = new DatabaseSync(path)
      newer.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`)
      newer.close()
      const refused = yield* Effect.flip(openStore({ path, durability: "process" }))
      assert.strictEqual(refused._tag, "StoreUnavailable")
      assert.strictEqual(
        refused.message,
        `the store ${path} cannot be used: it was written by a newer switchboard (schema version ${SCHEMA_VERSION + 1}; this one knows up to ${SCHEMA_VERSION})`
      )
      assert.strictEqual(pragma(path, "user_version"), SCHEMA_VERSION + 1, "the newer file is left as it was")
    }))

  it.effect("a file that is not SQLite is refused with one line, and left as it was", () =>
    Effect.gen(function*() {
      const path = join(yield* tempStateDir, "switchboard.db")
      writeFileSync(path, "this is not a database, just some text that is long enough to be read\n".repeat(20))
      const refused = yield* Effect.flip(openStore({ path, durability: "process" }))
      assert.strictEqual(refused._tag, "StoreUnavailable")
      assert.match(refused.message, /^the store .* cannot be used: file is not a database$/)
      assert.notInclude(refused.message, "\n")
    }))

  for (const [durability, level] of [["process", 1], ["power", 2]] as const) {
    it.effect(`SWITCHBOARD_DURABILITY=${durability} sets synchronous to ${level === 1 ? "NORMAL" : "FULL"}`, () =>
      Effect.gen(function*() {
        const path = join(yield* tempStateDir, "switchboard.db")
        const { store } = yield* openStore({ path, durability })
        // Read back on the store's own connection: the setting is per connection.
        const synchronous = yield* store.read("pragma", (db) => db.get<{ synchronous: number }>("PRAGMA synchronous")?.synchronous)
        assert.strictEqual(synchronous, level)
        assert.strictEqual(store.durability, durability)
      }))
  }
})

describe("the queue table", () => {
  it.effect("rows come back in enqueue order with their priority, source, id, time and state", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore({ path: ":memory:", durability: "process" })
      yield* store.transaction("fill", (db) => {
        insertQueued(db, request("late", "event"), 2, 300)
        insertQueued(db, request("early", "command"), 0, 100)
        insertQueued(db, request("middle"), 1, 200)
        setQueueState(db, "early", "running")
      })
      const loaded = yield* store.read("load", loadQueue)
      assert.deepStrictEqual(loaded.items.map((r) => [r.request.id, r.request.priority, r.seq, r.enqueuedAt, r.state]), [
        ["early", "command", 0, 100, "running"],
        ["middle", "human", 1, 200, "queued"],
        ["late", "event", 2, 300, "queued"]
      ])
      assert.deepStrictEqual(loaded.items[1]!.request, request("middle"))
      yield* store.transaction("remove", (db) => removeQueued(db, "middle"))
      assert.deepStrictEqual((yield* store.read("load", loadQueue)).items.map((r) => r.request.id), ["early", "late"])
    }))

  it.effect("a row that does not decode is reported, not returned", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore({ path: ":memory:", durability: "process" })
      yield* store.transaction("fill", (db) => {
        insertQueued(db, request("good"), 0, 1)
        db.run("INSERT INTO queue (id, seq, priority, source, enqueued_at, request) VALUES ('bad', 1, 'human', 'x', 1, '{\"id\":')")
      })
      const loaded = yield* store.read("load", loadQueue)
      assert.deepStrictEqual(loaded.items.map((r) => r.request.id), ["good"])
      assert.deepStrictEqual(loaded.rejected.map((r) => r.id), ["bad"])
    }))

  it.effect("what was committed is there after a crash: the file reopened while the first connection never closed", () =>
    Effect.gen(function*() {
      const path = join(yield* tempStateDir, "switchboard.db")
      const first = yield* openStore({ path, durability: "process" })
      yield* first.store.transaction("fill", (db) => {
        insertQueued(db, request("a"), 0, 1)
        insertQueued(db, request("b"), 1, 2)
      })
      // A transaction that fails half-way leaves nothing behind.
      const failed = yield* first.store.transaction("half", (db) => {
        insertQueued(db, request("c"), 2, 3)
        throw new Error("disk on fire")
      }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(failed))
      assert.strictEqual((yield* first.store.stats).lastError?.message, "disk on fire")
      const second = yield* openStore({ path, durability: "process" })
      assert.deepStrictEqual((yield* second.store.read("load", loadQueue)).items.map((r) => r.request.id), ["a", "b"])
    }))
})

describe("the dedupe table", () => {
  it.effect("an id is seen until it expires; pruning forgets the expired, then the oldest beyond the bound", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore({ path: ":memory:", durability: "process" })
      yield* store.transaction("fill", (db) => {
        rememberId(db, "x", 1000)
        rememberId(db, "y", 2000)
        rememberId(db, "z", 3000)
        rememberId(db, "gone", 10)
      })
      assert.deepStrictEqual(yield* store.read("seen", (db) => ["x", "gone", "never"].map((id) => isSeen(db, id, 500))), [true, false, false])
      assert.isFalse(yield* store.read("seen", (db) => isSeen(db, "x", 1000)))
      const left = yield* store.transaction("prune", (db) => pruneDedupe(db, 500, 2))
      assert.strictEqual(left, 2)
      assert.deepStrictEqual(yield* store.read("seen", (db) => ["x", "y", "z"].map((id) => isSeen(db, id, 500))), [false, true, true])
    }))
})

describe("the finished requests table", () => {
  it.effect("a record comes back as it was saved, a re-run replaces it, and only the newest are kept", () =>
    Effect.gen(function*() {
      const { store } = yield* openStore({ path: ":memory:", durability: "process" })
      yield* store.transaction("fill", (db) => {
        for (let i = 0; i < 5; i++) saveFinished(db, { id: `r${i}`, source: "http:a", status: "done", reply: `reply ${i}`, receivedAt: i, startedAt: i, finishedAt: i + 1 })
        saveFinished(db, { id: "r0", source: "http:a", status: "failed", error: "timed out", receivedAt: 0 })
        trimFinished(db, 3)
      })
      const found = yield* store.read("find", (db) => ["r0", "r1", "r2", "r4"].map((id) => findFinished(db, id)))
      assert.deepStrictEqual(found[0], { id: "r0", source: "http:a", status: "failed", error: "timed out", receivedAt: 0 })
      assert.deepStrictEqual([found[1], found[2]?.id], [undefined, undefined])
      assert.deepStrictEqual(found[3], { id: "r4", source: "http:a", status: "done", reply: "reply 4", receivedAt: 4, startedAt: 4, finishedAt: 5 })
    }))
})
