// The built daemon and a store it cannot use: it stops at start with one line on stderr and exit
// code 2, and leaves the file as it was (a newer version's data is not touched by an older one).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, it } from "@effect/vitest"
import { SCHEMA_VERSION } from "../../src/store/migrations.ts"
import { runDaemonToExit } from "../support/daemon.ts"

const withStateDir = async (body: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
  try {
    await body(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe("a store the daemon cannot use stops the start", () => {
  it("a switchboard.db that is not SQLite: one line, exit 2, the file untouched", () =>
    withStateDir(async (dir) => {
      const file = join(dir, "switchboard.db")
      const garbage = "not a database\n".repeat(100)
      writeFileSync(file, garbage)
      const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: dir })
      assert.strictEqual(r.code, 2)
      assert.strictEqual(r.stderr, `switchboard: the store ${file} cannot be used: file is not a database\n`)
      assert.strictEqual(readFileSync(file, "utf8"), garbage)
    }))

  it("a switchboard.db of a newer schema version: one line naming both versions, exit 2", () =>
    withStateDir(async (dir) => {
      const file = join(dir, "switchboard.db")
      const newer = new DatabaseSync(file)
      newer.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 5}`)
      newer.close()
      const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: dir })
      assert.strictEqual(r.code, 2)
      assert.strictEqual(
        r.stderr,
        `switchboard: the store ${file} cannot be used: it was written by a newer switchboard (schema version ${SCHEMA_VERSION + 5}; this one knows up to ${SCHEMA_VERSION})\n`
      )
    }))
})
