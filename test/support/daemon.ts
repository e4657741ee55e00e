// Start the BUILT daemon (dist/main.js) as a child process on a free port and drive it through
// its contract. `npm test` builds first (pretest). Each daemon gets its own state dir.
import { type ChildProcess, spawn } from "node:child_process"
import { createServer } from "node:net"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"

export const ROOT = join(import.meta.dirname, "..", "..")
export const MAIN = join(ROOT, "dist", "main.js")
export const CLI = join(ROOT, "dist", "cli", "main.js")

export interface Daemon {
  readonly url: string
  readonly stateDir: string
  readonly process: ChildProcess
  /** Every stdout line so far (JSON logs). */
  readonly lines: Array<string>
  readonly stderr: Array<string>
  readonly env: Record<string, string>
  /** Resolves with the exit code (or signal name) once the process ends. */
  readonly exited: Promise<number | string>
  readonly fetch: (path: string, init?: RequestInit) => Promise<Response>
  readonly json: <T = any>(path: string, init?: RequestInit) => Promise<{ status: number; body: T }>
  readonly post: <T = any>(path: string, body: unknown) => Promise<{ status: number; body: T }>
  readonly stop: (signal?: NodeJS.Signals) => Promise<number | string>
}

export interface StartOptions {
  readonly env?: Record<string, string>
  /** Reuse a state dir (restart tests). */
  readonly stateDir?: string
  readonly token?: string
  /** Default true: the token is also put into the daemon's SWITCHBOARD_API_TOKEN (false: it finds it elsewhere). */
  readonly tokenInEnv?: boolean
  readonly timeoutMs?: number
  /** Another program than `node dist/main.js` (benchmarks: `npm start`, the floor server). */
  readonly command?: { readonly file: string; readonly args: ReadonlyArray<string> }
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | string>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1))
  })

/** Start the daemon and wait until it logs the URL it listens on. */
export const startDaemon = async (options: StartOptions = {}): Promise<Daemon> => {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "switchboard-test-"))
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? "/tmp",
    SWITCHBOARD_HTTP_HOST: "127.0.0.1",
    SWITCHBOARD_HTTP_PORT: "0",
    SWITCHBOARD_STATE_DIR: stateDir,
    ...(options.token && options.tokenInEnv !== false ? { SWITCHBOARD_API_TOKEN: options.token } : {}),
    ...options.env
  }
  const command = options.command ?? { file: process.execPath, args: [MAIN] }
  const child = spawn(command.file, command.args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] })
  const lines: Array<string> = []
  const stderr: Array<string> = []
  const exited = exitOf(child)
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`daemon did not start within ${options.timeoutMs ?? 15_000} ms:\n${lines.join("\n")}\n${stderr.join("")}`)),
      options.timeoutMs ?? 15_000
    )
    let buffer = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8")
      let i: number
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 1)
        lines.push(line)
        const m = /"url":"(http:\/\/[^"]+)"/.exec(line)
        if (m && line.includes("listening")) {
          clearTimeout(timer)
          clearInterval(poll)
          resolve(m[1]!)
        }
      }
    })
    child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")))
    // With a quiet log level there is no "listening" line: the daemon also writes daemon.json.
    const file = join(stateDir, "daemon.json")
    const poll = setInterval(() => {
      if (!existsSync(file)) return
      try {
        const info = JSON.parse(readFileSync(file, "utf8")) as { pid: number; url: string }
        if (info.pid !== child.pid) return
        clearInterval(poll)
        clearTimeout(timer)
        resolve(info.url)
      } catch {
        // half-written by a previous run: try again
      }
    }, 20)
    void exited.finally(() => clearInterval(poll))
    const stopPolling = () => clearInterval(poll)
    child.stdout!.once("close", stopPolling)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`daemon exited (${code}) before listening:\n${stderr.join("")}\n${lines.join("\n")}`))
    })
  })
  const headers = (init?: RequestInit): Record<string, string> => ({
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...(init?.headers as Record<string, string> | undefined)
  })
  const doFetch = (path: string, init?: RequestInit) => fetch(`${url}${path}`, { ...init, headers: headers(init) })
  const json = async (path: string, init?: RequestInit) => {
    const res = await doFetch(path, init)
    const text = await res.text()
    return { status: res.status, body: text === "" ? undefined : JSON.parse(text) }
  }
  return {
    url,
    stateDir,
    process: child,
    lines,
    stderr,
    env,
    exited,
    fetch: doFetch,
    json,
    post: (path, body) =>
      json(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    }
  }
}

/** A daemon for the duration of an Effect scope (stopped, and its state dir removed, on close). */
export const daemonScoped = (options: StartOptions = {}) =>
  Effect.acquireRelease(
    Effect.promise(() => startDaemon(options)),
    (d) =>
      Effect.promise(async () => {
        await d.stop()
        if (options.stateDir === undefined) rmSync(d.stateDir, { recursive: true, force: true })
      })
  )

export interface Finished {
  readonly code: number | string
  readonly stdout: string
  readonly stderr: string
}

/** Run a built entry point to completion and collect its exit code and output. */
const runToExit = (
  script: string,
  args: ReadonlyArray<string>,
  env: Record<string, string>,
  input: string | undefined,
  timeoutMs: number
) =>
  new Promise<Finished>((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", ...env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    child.stdin.end(input)
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${script} still running after ${timeoutMs} ms: ${stdout}${stderr}`))
    }, timeoutMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? -1, stdout, stderr })
    })
  })

/** Run the built daemon with `env` until it exits (start-up failures). */
export const runDaemonToExit = (env: Record<string, string>, timeoutMs = 15_000) =>
  runToExit(MAIN, [], { SWITCHBOARD_HTTP_PORT: "0", ...env }, undefined, timeoutMs)

/** Run the built CLI (`switchboard …`) and collect its output. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string>, input?: string, timeoutMs = 20_000) =>
  runToExit(CLI, args, env, input, timeoutMs)

/** Poll `check` until it returns a value (not undefined) or the deadline passes. */
export const eventually = async <A>(check: () => Promise<A | undefined>, timeoutMs = 10_000, everyMs = 25): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

/** A free TCP port on loopback (restart tests that need the same port twice). */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })

/** `switchboard chat` as a child process, with waits on what it prints. */
export const startChat = (url: string, source: string) => {
  const chat = spawn(process.execPath, [CLI, "chat", "--as", source], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_URL: url },
    stdio: ["pipe", "pipe", "pipe"]
  })
  const output = { out: "", err: "" }
  const waiters: Array<() => void> = []
  const wake = () => {
    for (const w of waiters.splice(0)) w()
  }
  chat.stdout.on("data", (c: Buffer) => {
    output.out += c.toString("utf8")
    wake()
  })
  chat.stderr.on("data", (c: Buffer) => {
    output.err += c.toString("utf8")
    wake()
  })
  const exited = new Promise<number | null>((resolve) => chat.on("exit", (code) => resolve(code)))
  /** Resolves once `text` was printed; rejects after 15 s or when the chat exits without it. */
  const seen = (text: string, stream: "out" | "err" = "out") =>
    Promise.race([
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`never printed ${JSON.stringify(text)}; got:\n${output.out}\n${output.err}`)),
          15_000
        )
        const check = () => (output[stream].includes(text) ? (clearTimeout(timer), resolve()) : waiters.push(check))
        check()
      }),
      exited.then((code) => {
        if (output[stream].includes(text)) return
        throw new Error(`chat exited (${code}) before printing ${JSON.stringify(text)}:\n${output.out}\n${output.err}`)
      })
    ])
  return { chat, output, seen, exited }
}
