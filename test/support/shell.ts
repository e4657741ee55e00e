// Run a program through bash, so a test can set what only a shell sets for a child: a umask, a
// file-size limit (`ulimit -f`), an ignored signal (`trap '' XFSZ`, so a write past the limit fails
// with EFBIG instead of killing the process). `script` ends with `exec "$0" "$@"`.
import { spawn } from "node:child_process"
import { ROOT } from "./daemon.ts"

export interface ShellRun {
  readonly code: number | string
  readonly stdout: string
  readonly stderr: string
}

export const runShell = (script: string, argv: ReadonlyArray<string>, env: Record<string, string>, timeoutMs = 15_000) =>
  new Promise<ShellRun>((resolve, reject) => {
    const child = spawn("bash", ["-c", script, ...argv], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`still running after ${timeoutMs} ms: ${stdout}${stderr}`))
    }, timeoutMs)
    child.on("exit", (code, signal) => {
      clearTimeout(timer)
      resolve({ code: code ?? signal ?? -1, stdout, stderr })
    })
  })
