// The state dir's rules at start, as plain synchronous file operations (StateDir runs them in
// order): private modes, a probe write, one daemon per dir (a lock file with the owner's pid), and
// temp files of dead processes removed. Each refusal is one line a person can act on.
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs"
import { join } from "node:path"

export const DIR_MODE = 0o700
export const FILE_MODE = 0o600
export const LOCK_FILE = "daemon.lock"
/** The store's file (Store.ts). */
export const STORE_FILE = "switchboard.db"
/** The probe must fit: a disk with less free room than this is full for the daemon's purposes. */
export const PROBE_BYTES = 64 * 1024

/** A temp file of this daemon's write-then-rename helpers: `<name>.<pid>.tmp`. */
const TEMP = /\.(\d+)\.(tmp|stale)$/

const code = (e: unknown) => (e as NodeJS.ErrnoException).code ?? ""

const why = (e: unknown): string => {
  switch (code(e)) {
    case "EROFS":
      return "it is on a read-only file system"
    case "EACCES":
    case "EPERM":
      return "this user may not write there"
    case "ENOSPC":
    case "EDQUOT":
      return "the disk is full"
    case "EFBIG":
      return "a file-size limit stops writes (ulimit -f)"
    default:
      return (e as Error).message ?? String(e)
  }
}

/** Create the dir (0700) and check that a write of PROBE_BYTES reaches the disk. */
export const prepareAndProbe = (dir: string): string | undefined => {
  try {
    mkdirSync(dir, { recursive: true, mode: DIR_MODE })
  } catch (e) {
    return `cannot create the state dir ${dir}: ${why(e)}`
  }
  const probe = join(dir, `.probe.${process.pid}.tmp`)
  try {
    const fd = openSync(probe, "w", FILE_MODE)
    try {
      const block = Buffer.alloc(PROBE_BYTES, 0x2e)
      let written = 0
      while (written < block.length) written += writeSync(fd, block, written)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    unlinkSync(probe)
  } catch (e) {
    try {
      unlinkSync(probe)
    } catch {
      // nothing was created
    }
    return `the state dir ${dir} is not writable: ${why(e)} (SWITCHBOARD_STATE_DIR)`
  }
  return undefined
}

interface LockOwner {
  readonly pid: number
  readonly startedAt: string
  /** Linux: the kernel's boot id and the process's start time, so a reused pid is not taken for the owner. */
  readonly boot?: string | undefined
  readonly ticks?: string | undefined
}

const readProc = (path: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}
const bootId = () => readProc("/proc/sys/kernel/random/boot_id")?.trim()
/** Field 22 of /proc/<pid>/stat (after the parenthesised name, which may hold spaces). */
const startTicks = (pid: number) => readProc(`/proc/${pid}/stat`)?.split(") ")[1]?.split(" ")[19]

const ownerOf = (text: string): LockOwner | undefined => {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>
    return typeof v.pid === "number" && Number.isInteger(v.pid) && v.pid > 0 ? (v as LockOwner) : undefined
  } catch {
    return undefined
  }
}

/** Is the lock's owner still running? A pid of another boot, or reused by a later process, is not. */
const running = (owner: LockOwner): boolean => {
  try {
    process.kill(owner.pid, 0)
  } catch (e) {
    if (code(e) !== "EPERM") return false
  }
  const boot = bootId()
  if (owner.boot !== undefined && boot !== undefined && owner.boot !== boot) return false
  const ticks = startTicks(owner.pid)
  return !(owner.ticks !== undefined && ticks !== undefined && owner.ticks !== ticks)
}

export type LockResult =
  | { readonly _tag: "Acquired"; readonly replacedStale: LockOwner | undefined }
  | { readonly _tag: "Refused"; readonly line: string }

/**
 * Take `<dir>/daemon.lock`. The lock appears whole or not at all (written aside, then hard-linked
 * into place, which fails when one exists). A lock whose owner is gone is moved aside and replaced;
 * moving it aside is atomic, so of two daemons that found the same stale lock only one replaces it.
 */
export const acquireLock = (dir: string, now: Date): LockResult => {
  const lock = join(dir, LOCK_FILE)
  const mine: LockOwner = { pid: process.pid, startedAt: now.toISOString(), boot: bootId(), ticks: startTicks(process.pid) }
  const draft = join(dir, `.${LOCK_FILE}.${process.pid}.tmp`)
  writeFileSync(draft, JSON.stringify(mine) + "\n", { mode: FILE_MODE })
  let replacedStale: LockOwner | undefined
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(draft, lock)
        return { _tag: "Acquired", replacedStale }
      } catch (e) {
        if (code(e) !== "EEXIST") throw e
      }
      const text = readProc(lock)
      if (text === undefined) continue // removed meanwhile: try again
      const owner = ownerOf(text)
      if (owner !== undefined && owner.pid === process.pid) return { _tag: "Acquired", replacedStale }
      if (owner !== undefined && running(owner)) {
        return {
          _tag: "Refused",
          line: `the state dir ${dir} is in use by another switchboard (pid ${owner.pid}, started ${owner.startedAt}); ` +
            `stop it, or give this one its own SWITCHBOARD_STATE_DIR (lock: ${lock})`
        }
      }
      const aside = join(dir, `.${LOCK_FILE}.${process.pid}.stale`)
      try {
        renameSync(lock, aside)
      } catch (e) {
        if (code(e) === "ENOENT") continue
        throw e
      }
      if (readProc(aside) !== text) {
        // Someone replaced the stale lock between our read and our move: give theirs back.
        try {
          linkSync(aside, lock)
        } catch {
          // a third one holds it now; either way it is not ours
        }
        unlinkSync(aside)
        continue
      }
      unlinkSync(aside)
      replacedStale = owner ?? { pid: 0, startedAt: "unknown" }
    }
    return { _tag: "Refused", line: `could not take the lock ${lock}: other processes keep replacing it` }
  } finally {
    unlinkSync(draft)
  }
}

/** Remove the lock at stop, if it is still this process's own. */
export const releaseLock = (dir: string): void => {
  const lock = join(dir, LOCK_FILE)
  const text = readProc(lock)
  if (text !== undefined && ownerOf(text)?.pid === process.pid) unlinkSync(lock)
}

/** Folders below the state dir that are looked into (sessions/<agent>/<conversation> is three). */
const DEPTH = 4

/** The files and folders under `dir`, `DEPTH` levels deep (links and sockets left alone). */
const entries = (dir: string, depth = DEPTH): Array<{ readonly path: string; readonly dir: boolean }> =>
  depth === 0 ? [] : readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isFile()) return [{ path, dir: false }]
    return e.isDirectory() ? [{ path, dir: true }, ...entries(path, depth - 1)] : []
  })

/**
 * Remove temp files left by a process that died between write and rename (`*.<pid>.tmp`), and make
 * the dir 0700 and everything in it (four levels deep) 0600 / 0700, whatever the umask was when they were
 * created. Returns the temp files removed and the modes changed.
 */
export const tidy = (dir: string): { readonly removed: ReadonlyArray<string>; readonly tightened: number } => {
  const removed: Array<string> = []
  let tightened = 0
  const tighten = (path: string, mode: number) => {
    try {
      if ((statSync(path).mode & 0o777) === mode) return
      chmodSync(path, mode)
      tightened++
    } catch {
      // not ours to change (another user's file): left as it is
    }
  }
  tighten(dir, DIR_MODE)
  for (const e of entries(dir)) {
    const pid = TEMP.exec(e.path)?.[1]
    if (!e.dir && pid !== undefined && Number(pid) !== process.pid) {
      unlinkSync(e.path)
      removed.push(e.path)
      continue
    }
    tighten(e.path, e.dir ? DIR_MODE : FILE_MODE)
  }
  return { removed, tightened }
}


/**
 * Create `file` empty and private if it does not exist. For the store: SQLite creates its file
 * 0644 and gives the -wal and -shm files the mode of the database file, so a file made 0600 first
 * keeps all three private (an empty file is an empty database to SQLite).
 */
export const createPrivate = (file: string): void => {
  closeSync(openSync(file, "a", FILE_MODE))
}
