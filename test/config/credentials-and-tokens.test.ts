// Settings refused at start (exit 2, one line, never the secret): credentials inside a model URL
// (they would reach /status, logs and spans), and an API token that is blank, has spaces or is one
// character long.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { runDaemonToExit } from "../support/daemon.ts"

const refused = async (env: Record<string, string>) => {
  const stateDir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
  try {
    const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: stateDir, ...env }, 10_000)
    assert.strictEqual(r.code, 2, r.stdout + r.stderr)
    const lines = r.stderr.trim().split("\n")
    assert.strictEqual(lines.length, 1, r.stderr)
    return { line: lines[0]!, all: r.stdout + r.stderr }
  } finally {
    rmSync(stateDir, { recursive: true, force: true })
  }
}

describe("refused at start", () => {
  it("OPENAI_BASE_URL with user:password@ is refused, naming the variable, never the password", async () => {
    const r = await refused({ SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: "https://me:hunter2-s3cret@llm.internal/v1" })
    assert.match(r.line, /^switchboard: invalid configuration: OPENAI_BASE_URL: a URL without credentials/)
    assert.include(r.line, "OPENAI_API_KEY")
    assert.notInclude(r.all, "hunter2-s3cret")
  })

  it("a token inside SWITCHBOARD_FALLBACK_BASE_URL is refused too", async () => {
    const r = await refused({ SWITCHBOARD_FALLBACK_MODEL: "small", SWITCHBOARD_FALLBACK_BASE_URL: "http://sk-abcdef0123@fallback.internal/v1" })
    assert.match(r.line, /SWITCHBOARD_FALLBACK_BASE_URL: a URL without credentials/)
    assert.notInclude(r.all, "sk-abcdef0123")
  })

  for (const [what, token] of [["whitespace-only", "   "], ["one-character", "x"], ["with a space inside", "two words"]] as const) {
    it(`a ${what} SWITCHBOARD_API_TOKEN is refused`, async () => {
      const r = await refused({ SWITCHBOARD_API_TOKEN: token })
      assert.match(r.line, /^switchboard: invalid configuration: SWITCHBOARD_API_TOKEN: a token of at least 2 characters without spaces/)
    })
  }
})
