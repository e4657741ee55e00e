// Telling a torn write at the end of the store's WAL from a clean end, on a real SQLite WAL.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterAll, describe, expect, it } from "vitest"
import { tornWalTail } from "../../src/store/walCheck.ts"

const dir = mkdtempSync(join(tmpdir(), "switchboard-wal-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A WAL of a few commits, read while the database is still open (as a crash leaves it). */
const realWal = () => {
  const db = new DatabaseSync(join(dir, "t.db"))
  db.exec("PRAGMA journal_mode = WAL")
  db.exec("CREATE TABLE t (x TEXT)")
  for (let i = 0; i < 5; i++) db.prepare("INSERT INTO t VALUES (?)").run("row ".repeat(200) + i)
  const wal = readFileSync(join(dir, "t.db-wal"))
  db.close()
  return wal
}

describe("a torn write at the end of the WAL", () => {
  const wal = realWal()
  const frame = 24 + wal.readUInt32BE(8)
  const frames = (wal.length - 32) / frame

  it("a log of whole, valid frames is clean", () => {
    expect(Number.isInteger(frames) && frames > 2).toBe(true)
    expect(tornWalTail(wal)).toBe(0)
  })

  it("a log cut inside its last frame is torn by the part that remains", () => {
    expect(tornWalTail(wal.subarray(0, wal.length - 100))).toBe(frame - 100)
  })

  it("a last frame whose page did not fully reach the disk (checksum fails) is torn", () => {
    const damaged = Buffer.from(wal)
    damaged[damaged.length - 10] = damaged[damaged.length - 10]! ^ 0xff
    expect(tornWalTail(damaged)).toBe(frame)
  })

  it("frames of an earlier generation (other salts) after the current ones are not a tear", () => {
    const stale = Buffer.from(wal)
    stale.writeUInt32BE(stale.readUInt32BE(16) + 1, wal.length - frame + 8)
    expect(tornWalTail(stale)).toBe(0)
  })
})
