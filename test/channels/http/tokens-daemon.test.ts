// API tokens on the built daemon: a generated token (0600, its path logged) that the CLI finds by
// itself, a bad tokens file that refuses the start in one line, and SIGHUP re-reading the file.
import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterEach, assert, describe, it } from "vitest"
import { type Daemon, eventually, runCli, runDaemonToExit, startDaemon } from "../../support/daemon.ts"

const ALICE = "alice-token-0123456789"
const BOB = "bob-token-0123456789ab"

const running: Array<Daemon> = []
afterEach(async () => {
  for (const d of running.splice(0)) {
    await d.stop()
    rmSync(d.stateDir, { recursive: true, force: true })
  }
})

const authorized = (d: Daemon, path: string, token?: string) =>
  fetch(`${d.url}${path}`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status)

describe("API tokens on the daemon", () => {
  it("SWITCHBOARD_API_TOKEN_GENERATE writes a 0600 token file, logs its path, refuses callers without it; the CLI reads it", async () => {
    const daemon = await startDaemon({ env: { SWITCHBOARD_API_TOKEN_GENERATE: "true" } })
    running.push(daemon)
    const path = join(daemon.stateDir, "api-token")
    assert.strictEqual(statSync(path).mode & 0o777, 0o600)
    const token = readFileSync(path, "utf8").trim()
    assert.isAtLeast(token.length, 32)
    assert.isTrue(daemon.lines.some((l) => l.includes(path)), "the start log names the token file")
    assert.isFalse(daemon.lines.some((l) => l.includes(token)), "the token itself is never logged")
    assert.strictEqual(await authorized(daemon, "/status"), 401)
    assert.strictEqual(await authorized(daemon, "/status", token), 200)
    const sent = await runCli(["send", "hello"], { SWITCHBOARD_URL: daemon.url, SWITCHBOARD_STATE_DIR: daemon.stateDir })
    assert.strictEqual(sent.stdout.trim(), "echo: hello", sent.stderr)
    assert.strictEqual(sent.code, 0)
    const denied = await runCli(["send", "hello"], { SWITCHBOARD_URL: daemon.url, SWITCHBOARD_STATE_DIR: join(daemon.stateDir, "elsewhere") })
    assert.strictEqual(denied.code, 1)
    assert.include(denied.stderr, "401")
  })

  it("a bad tokens file refuses the start with one line that names the variable and never the token", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-tokens-"))
    try {
      const file = join(dir, "tokens.json")
      writeFileSync(file, JSON.stringify({ [ALICE]: { sources: ["telegram"] } }))
      const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: dir, SWITCHBOARD_API_TOKENS_FILE: file })
      assert.strictEqual(r.code, 2)
      const lines = r.stderr.trim().split("\n")
      assert.strictEqual(lines.length, 1, r.stderr)
      assert.match(lines[0]!, /^switchboard: invalid configuration: SWITCHBOARD_API_TOKENS_FILE: .*tokens\.json: /)
      assert.notInclude(r.stderr + r.stdout, ALICE)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("SIGHUP re-reads the tokens file: a token added works, a removed one is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-tokens-"))
    const file = join(dir, "tokens.json")
    writeFileSync(file, JSON.stringify({ [ALICE]: { sources: ["cli:alice"] } }))
    const daemon = await startDaemon({ stateDir: dir, env: { SWITCHBOARD_API_TOKENS_FILE: file } })
    running.push(daemon)
    assert.strictEqual(await authorized(daemon, "/v1/inbox/cli:alice", ALICE), 200)
    assert.strictEqual(await authorized(daemon, "/v1/inbox/cli:bob", ALICE), 403)
    const asAlice = await runCli(["send", "--as", "cli:alice", "hi"], { SWITCHBOARD_URL: daemon.url, SWITCHBOARD_API_TOKEN: ALICE })
    assert.strictEqual(asAlice.stdout.trim(), "echo: hi", asAlice.stderr)
    writeFileSync(file, JSON.stringify({ [BOB]: { sources: ["cli:bob"] } }))
    daemon.process.kill("SIGHUP")
    await eventually(async () => ((await authorized(daemon, "/v1/inbox/cli:bob", BOB)) === 200 ? true : undefined))
    assert.strictEqual(await authorized(daemon, "/v1/inbox/cli:alice", ALICE), 401)
  })
})
