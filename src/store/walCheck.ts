// Reading the store's write-ahead log (SQLite's WAL format, sqlite.org/fileformat2.html#walformat)
// for one question: does it end in a torn write? SQLite replays the valid frames of the current
// generation and silently ignores a frame that fails its checksum and everything after it, so a
// crash (or a cut by hand) mid-write drops commits without a word. The start says so instead. Pure.
import { readFileSync } from "node:fs"

const HEADER = 32
const FRAME_HEADER = 24

/** SQLite's WAL checksum over [start, end), continuing from `s`; words in the WAL's own byte order. */
const checksum = (buf: Buffer, start: number, end: number, s: readonly [number, number], bigEndian: boolean): [number, number] => {
  let [a, b] = s
  for (let i = start; i < end; i += 8) {
    const x = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i)
    const y = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4)
    a = (a + x + b) >>> 0
    b = (b + y + a) >>> 0
  }
  return [a, b]
}

/**
 * Bytes at the end of the WAL's current generation that SQLite will ignore because they are not a
 * whole, valid frame: 0 for a clean log (or no log, or one SQLite will judge by itself).
 */
export const tornWalTail = (wal: Buffer): number => {
  if (wal.length < HEADER) return wal.length
  const magic = wal.readUInt32BE(0)
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return 0
  const bigEndian = (magic & 1) === 1
  const pageSize = wal.readUInt32BE(8)
  const salt1 = wal.readUInt32BE(16)
  const salt2 = wal.readUInt32BE(20)
  let sum = checksum(wal, 0, 24, [0, 0], bigEndian)
  if (sum[0] !== wal.readUInt32BE(24) || sum[1] !== wal.readUInt32BE(28)) return 0
  const frame = FRAME_HEADER + pageSize
  let at = HEADER
  for (; at + frame <= wal.length; at += frame) {
    // Frames of an earlier generation (other salts) are old, not torn: the log ends cleanly here.
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) return 0
    const next = checksum(wal, at + FRAME_HEADER, at + frame, checksum(wal, at, at + 8, sum, bigEndian), bigEndian)
    if (next[0] !== wal.readUInt32BE(at + 16) || next[1] !== wal.readUInt32BE(at + 20)) return wal.length - at
    sum = next
  }
  // Whole frames are all the log ever grows by: a part of one is a write cut short.
  return wal.length - at
}

/** `tornWalTail` of a file; 0 when there is none. */
export const tornWalBytes = (file: string): number => {
  try {
    return tornWalTail(readFileSync(file))
  } catch {
    return 0
  }
}
