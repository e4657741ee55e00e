// The conversation file's crash rules, as plain synchronous file operations (Memory wraps them).
// Lines are only ever appended, so a crash can damage only the last one: at open, a torn last line
// is cut off (and described, so the log can say what was lost); an append that fails part way
// (disk full, file-size limit) is truncated back, so the next line never starts glued to a fragment.
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync, writeSync } from "node:fs"
import { basename, dirname, join } from "node:path"

/** Private to the user whatever the umask: conversations hold everything that was said. */
export const FILE_MODE = 0o600

export interface TornLine {
  /** 1-based line number of the fragment. */
  readonly line: number
  readonly bytes: number
  /** What the fragment was, as far as it can be told ("part of a user message"). */
  readonly what: string
}

const describeFragment = (fragment: string): string => {
  if (fragment.includes("\"t\":\"compact\"")) return "part of a compaction record"
  const role = /"role":"(\w+)"/.exec(fragment)?.[1]
  if (role === undefined) return fragment.includes("\"t\":\"msg\"") ? "part of a message" : "part of a line"
  return `part of ${/^[aeiou]/.test(role) ? "an" : "a"} ${role} message`
}

const isWholeJson = (text: string) => {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * Read a conversation file, cutting off a torn last line on disk. A last line that is whole but
 * lacks its newline (the crash came between the two) is kept and ended.
 */
export const openConversation = (file: string): { readonly text: string; readonly torn: TornLine | undefined } => {
  const text = readFileSync(file, "utf8")
  if (text === "" || text.endsWith("\n")) return { text, torn: undefined }
  const cut = text.lastIndexOf("\n") + 1
  const fragment = text.slice(cut)
  if (isWholeJson(fragment)) {
    appendAll(file, Buffer.byteLength(text), "\n", false)
    return { text: text + "\n", torn: undefined }
  }
  const kept = text.slice(0, cut)
  truncateSync(file, Buffer.byteLength(kept))
  return {
    text: kept,
    torn: { line: kept.split("\n").length, bytes: Buffer.byteLength(fragment), what: describeFragment(fragment) }
  }
}

const writeAll = (fd: number, data: Buffer) => {
  let offset = 0
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset)
}

/** The append failed and the file could not be cut back either: the next append retries the cut. */
export class TruncateFailed extends Error {}

/**
 * Append `data` to `file`, whose good content is its first `goodBytes` bytes; returns the new good
 * length. Anything past `goodBytes` (left by an earlier failure) is cut first; a failed write is
 * cut back before the error is thrown. `sync` fsyncs (power-loss durability).
 */
export const appendAll = (file: string, goodBytes: number, data: string, sync: boolean): number => {
  const buffer = Buffer.from(data, "utf8")
  const fd = openSync(file, "a", FILE_MODE)
  try {
    if (fstatSync(fd).size !== goodBytes) ftruncateSync(fd, goodBytes)
    try {
      writeAll(fd, buffer)
      if (sync) fsyncSync(fd)
    } catch (error) {
      try {
        ftruncateSync(fd, goodBytes)
      } catch (cut) {
        throw new TruncateFailed(`${String(error)}; and the torn write could not be cut back: ${String(cut)}`)
      }
      throw error
    }
  } finally {
    closeSync(fd)
  }
  return goodBytes + buffer.length
}

/** Write-then-rename with a private mode: a reader (or the next start) sees the old or the new text. */
export const replaceFile = (file: string, content: string, sync: boolean): void => {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`)
  writeFileSync(tmp, content, { mode: FILE_MODE, flush: sync })
  renameSync(tmp, file)
}
