// Jobs run where they cannot see the daemon's process: a new PID namespace with its own /proc, so
// `cat /proc/<daemon pid>/environ` (or /proc/<pid>/mem, cmdline, fd/) finds nothing. bubblewrap
// (`bwrap`, Debian package `bubblewrap`) also hides the files that hold secrets and the state dir;
// `unshare` (util-linux) only gives the PID namespace. Which one is used is probed once at start.
import { spawnSync } from "node:child_process"

export type SandboxMode = "auto" | "bwrap" | "unshare" | "off"
export type SandboxKind = "bwrap" | "unshare" | "none"

export interface Hidden {
  /** Files a job sees as empty (config file, `*_FILE` secrets, the API tokens file). */
  readonly files: ReadonlyArray<string>
  /** Directories a job sees as empty (credentials directory, state dir). */
  readonly dirs: ReadonlyArray<string>
}

export interface Sandbox {
  readonly kind: SandboxKind
  /** The argv that runs `argv` inside the sandbox (argv[0] must be an absolute path). */
  readonly wrap: (argv: ReadonlyArray<string>) => ReadonlyArray<string>
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0

/** The sandbox's own argv prefix: pure, so tests can check what runs. */
export const sandboxPrefix = (kind: SandboxKind, hidden: Hidden, root = isRoot()): ReadonlyArray<string> => {
  switch (kind) {
    case "none":
      return []
    case "unshare":
      // Unprivileged, a user namespace is needed to make the others; keep our own uid in it.
      return ["unshare", ...(root ? [] : ["--user", "--map-current-user"]), "--pid", "--fork", "--mount-proc", "--kill-child", "--"]
    case "bwrap":
      return [
        "bwrap",
        "--dev-bind", "/", "/",
        "--unshare-pid",
        "--proc", "/proc",
        "--die-with-parent",
        ...hidden.files.flatMap((f) => ["--ro-bind-try", "/dev/null", f]),
        ...hidden.dirs.flatMap((d) => ["--tmpfs", d]),
        "--"
      ]
  }
}

export const makeSandbox = (kind: SandboxKind, hidden: Hidden): Sandbox => {
  const prefix = sandboxPrefix(kind, hidden)
  return { kind, wrap: (argv) => [...prefix, ...argv] }
}

/** Whether `kind` works here: it runs `true` (absolute path) and exits 0 within a few seconds. */
const works = (kind: Exclude<SandboxKind, "none">, truePath: string, hidden: Hidden): boolean => {
  const [program, ...args] = [...sandboxPrefix(kind, hidden), truePath]
  try {
    const result = spawnSync(program!, args, { stdio: "ignore", timeout: 5000, env: { PATH: process.env["PATH"] ?? "" } })
    return result.status === 0
  } catch {
    return false
  }
}

export type SandboxChoice =
  | { readonly _tag: "Ready"; readonly sandbox: Sandbox; readonly tried: ReadonlyArray<SandboxKind> }
  | { readonly _tag: "Unavailable"; readonly tried: ReadonlyArray<SandboxKind> }

/**
 * `auto`: bubblewrap, else unshare, else none (the caller warns). An explicitly chosen sandbox
 * that does not work is Unavailable (the caller refuses to start).
 */
export const chooseSandbox = (mode: SandboxMode, truePath: string, hidden: Hidden): SandboxChoice => {
  if (mode === "off") return { _tag: "Ready", sandbox: makeSandbox("none", hidden), tried: [] }
  const candidates: ReadonlyArray<Exclude<SandboxKind, "none">> = mode === "auto" ? ["bwrap", "unshare"] : [mode]
  for (const kind of candidates) {
    if (works(kind, truePath, hidden)) return { _tag: "Ready", sandbox: makeSandbox(kind, hidden), tried: candidates }
  }
  return { _tag: "Unavailable", tried: candidates }
}
