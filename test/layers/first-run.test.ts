// The first minutes of a new user: the start line says where to look, logs are pretty at a
// terminal and JSON otherwise, an old Node is refused in one line, `npx switchboard` prints no
// engine warnings, and the CLI says who it talks as.
import { spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { CLI, MAIN, ROOT, runCli, startDaemon } from "../support/daemon.ts"

/** The machine's own Node (older than 24 on these machines), if there is one. */
const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => {
  const r = spawnSync(p, ["--version"], { encoding: "utf8" })
  return r.status === 0 && Number(/^v(\d+)/.exec(r.stdout)?.[1] ?? 99) < 24
})

describe("a first run", () => {
  it("the start line says where the API and the dashboard are and what to try; piped, logs are JSON lines", async () => {
    const daemon = await startDaemon()
    try {
      const line = daemon.lines.map((l) => JSON.parse(l) as { message: string }).find((l) => l.message.includes("listening"))
      expect(line?.message).toBe(`switchboard listening on ${daemon.url} — dashboard at ${daemon.url}/, try: npx switchboard chat`)
      const page = await daemon.fetch("/")
      expect(page.status).toBe(200)
      expect(await page.text()).toContain("<title>switchboard</title>")
    } finally {
      await daemon.stop()
    }
  })

  it("at a terminal the logs are pretty; SWITCHBOARD_LOG_FORMAT=json still wins", () => {
    const run = (extra: string) => {
      const stateDir = mkdtempSync(join(tmpdir(), "switchboard-tty-"))
      // `script` gives the daemon a terminal; `timeout` stops it (SIGINT) after 3 s.
      const r = spawnSync("script", ["-qec", `timeout -s INT 3 ${process.execPath} ${MAIN}`, "/dev/null"], {
        cwd: ROOT,
        encoding: "utf8",
        env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_HTTP_PORT: "0", SWITCHBOARD_STATE_DIR: stateDir, ...(extra ? { SWITCHBOARD_LOG_FORMAT: extra } : {}) },
        timeout: 15_000
      })
      // Colours off for matching.
      return r.stdout.replace(/\x1b\[[0-9;]*m/g, "")
    }
    const pretty = run("")
    expect(pretty).toMatch(/INFO \(#\d+\): switchboard listening on http:\/\/127\.0\.0\.1:\d+ — dashboard at/)
    expect(pretty).not.toMatch(/^\{"message"/m)
    const json = run("json")
    expect(json).toMatch(/^\{"message":"switchboard listening on/m)
  })

  it.skipIf(systemNode === undefined)("an older Node is refused at start with one clear line and exit code 2", () => {
    const r = spawnSync(systemNode!, [MAIN], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env["PATH"] ?? "" } })
    expect(r.status).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toMatch(/^switchboard: needs Node 24 or newer, this is Node 2\d\.\d+\.\d+ \(npm start and npx switchboard use the project's own Node 24\)\n$/)
  })

  it("npx switchboard --version prints the version and no npm engine warnings", () => {
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version
    const r = spawnSync("npx", ["--no-install", "switchboard", "--version"], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp" } })
    expect(r.stdout.trim()).toBe(`switchboard v${version}`)
    expect(r.stderr).not.toMatch(/EBADENGINE/)
  })

  it("switchboard status --watch redraws until stopped; chat says who it talks as and to which agent", async () => {
    const daemon = await startDaemon()
    try {
      const watch = spawnSync(process.execPath, [CLI, "status", "--watch", "--every", "1"], {
        cwd: ROOT, encoding: "utf8", env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_URL: daemon.url }, timeout: 5000, killSignal: "SIGINT"
      })
      const frames = watch.stdout.split(/\n\n(?=queue)/).filter((f) => f.startsWith("queue"))
      expect(frames.length).toBeGreaterThanOrEqual(2)
      expect(watch.stdout).toMatch(/every 1 s · Ctrl-C to stop/)
      const chat = await runCli(["chat", "--as", "cli:newcomer"], { SWITCHBOARD_URL: daemon.url }, "hi\n")
      expect(chat.stdout).toBe("echo: hi\n")
      expect(chat.stderr).toContain(`connected to ${daemon.url} as cli:newcomer, agent echo; type a message, Ctrl-D to quit`)
    } finally {
      await daemon.stop()
    }
  })
})

