// A reply is text from the model, a chat or a program: the CLI prints it without the terminal
// control sequences it may carry (a title change, a screen clear, a cursor move, a bell).
import { rmSync } from "node:fs"
import { afterAll, assert, describe, it } from "vitest"
import { stripControl } from "../../src/cli/sanitize.ts"
import { type Daemon, runCli, startDaemon } from "../support/daemon.ts"

let daemon: Daemon | undefined
afterAll(async () => {
  if (daemon) {
    await daemon.stop()
    rmSync(daemon.stateDir, { recursive: true, force: true })
  }
})

const HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[Hhello\x1b[31m red\x1b[0m\x07\r\x9b2Jend\ttab"

describe("the CLI strips terminal control sequences", () => {
  it("switchboard send prints the echo of a hostile text without a single control character", async () => {
    daemon = await startDaemon()
    const sent = await runCli(["send", HOSTILE], { SWITCHBOARD_URL: daemon.url })
    assert.strictEqual(sent.code, 0, sent.stderr)
    assert.strictEqual(sent.stdout, "echo: hello redend\ttab\n")
    assert.notMatch(sent.stdout, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/)
  })

  it("switchboard chat prints what arrives in the inbox without them either", async () => {
    // A \r ends a typed line: the chat sends what is around it as two lines.
    const chat = await runCli(["chat", "--as", "cli:term"], { SWITCHBOARD_URL: daemon!.url }, `${HOSTILE.replace("\r", "")}\n`)
    assert.strictEqual(chat.code, 0, chat.stderr)
    assert.include(chat.stdout, "echo: hello redend\ttab")
    assert.notMatch(chat.stdout + chat.stderr, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/)
  })

  it("keeps newlines, tabs and ordinary text (also non-Latin) as they are", () => {
    assert.strictEqual(stripControl("line 1\nline\t2 — ünïcödé 😀"), "line 1\nline\t2 — ünïcödé 😀")
    assert.strictEqual(stripControl("a\x1bPq#0;2;0;0;0\x1b\\b\x1b_apc\x1b\\c\x1b7d"), "abcd")
  })
})
