// A child process started in its own process group, so that a timeout or a shutdown can end the
// program *and everything it started* (sh, make, npm and test runners fork children that hold the
// output pipe open and would outlive a kill of the direct child). Plain Node; the lifecycle
// (timeout, grace, waiting) is Effect code in ExecJobs.
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { tailOf } from "./argv.ts"

export type ProcessEnd =
  | { readonly _tag: "Exited"; readonly code: number | null; readonly signal: string | null }
  | { readonly _tag: "SpawnFailed"; readonly message: string }

export interface ProcessGroup {
  /** Resolves when the direct child has exited (or could not be started). Never rejects. */
  readonly exited: Promise<ProcessEnd>
  /** Resolves when stdout and stderr are closed: every holder of the pipes is gone. */
  readonly closed: Promise<void>
  /** The tail of stdout+stderr so far, at most `outputCap` bytes. */
  readonly output: () => string
  /** Signal every process of the group; a group that is gone is not an error. */
  readonly signal: (signal: NodeJS.Signals) => void
  /** Whether any process of the group is still alive. */
  readonly alive: () => boolean
}

export const startProcessGroup = (
  argv: ReadonlyArray<string>,
  options: { readonly env: Record<string, string>; readonly outputCap: number }
): ProcessGroup => {
  let output = ""
  const keep = (chunk: Buffer) => {
    output = tailOf(output + chunk.toString("utf8"), options.outputCap)
  }
  // detached: the child leads a new process group whose id is its pid.
  const child = spawn(argv[0]!, argv.slice(1), {
    shell: false,
    detached: true,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout.on("data", keep)
  child.stderr.on("data", keep)
  const exited = new Promise<ProcessEnd>((resolve) => {
    child.once("error", (error) => resolve({ _tag: "SpawnFailed", message: error.message }))
    child.once("exit", (code, signal) => resolve({ _tag: "Exited", code, signal }))
  })
  const closed = new Promise<void>((resolve) => {
    child.once("close", () => resolve())
    child.once("error", () => resolve())
  })
  const pid = child.pid
  const signal = (name: NodeJS.Signals) => {
    if (pid === undefined) return
    try {
      process.kill(-pid, name)
    } catch {
      // ESRCH: the whole group is gone already
    }
  }
  const alive = () => {
    if (pid === undefined) return false
    try {
      process.kill(-pid, 0)
    } catch {
      return false
    }
    // kill(0) also succeeds for a group of zombies (children orphaned to an init that has not
    // reaped them yet): on Linux, look for a member that is still running.
    return hasLivingMember(pid) ?? true
  }
  return { exited, closed, output: () => output, signal, alive }
}

/** Whether a process of group `pgid` is alive and not a zombie; undefined where /proc is missing. */
const hasLivingMember = (pgid: number): boolean | undefined => {
  let entries: Array<string>
  try {
    entries = readdirSync("/proc")
  } catch {
    return undefined
  }
  for (const name of entries) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8")
    } catch {
      continue // gone meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    if (Number(fields[2]) === pgid && fields[0] !== "Z" && fields[0] !== "X") return true
  }
  return false
}
