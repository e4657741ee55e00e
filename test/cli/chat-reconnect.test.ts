// `switchboard chat` (the built CLI and daemon) while the daemon restarts or refuses: it shows what
// was answered after the restart, sends what was typed meanwhile, and does not call a full queue
// "lost contact". Each case once failed; its comment says how.
import { spawn } from "node:child_process"
import { afterEach } from "vitest"
import { assert, describe, it } from "@effect/vitest"
import { CLI, freePort, ROOT, startChat, startDaemon } from "../support/daemon.ts"
import { startFakeChatCompletions } from "../support/fakeChatCompletions.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const waitFor = async (cond: () => Promise<boolean> | boolean, what: string) => {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`never happened: ${what}`)
}

const expect0 = (code: number | string | null) => assert.strictEqual(code, 0, "the daemon stopped cleanly")

describe("switchboard chat across a restart", () => {
  // After a restart the inbox starts again at seq 1, and the chat once started over only when the new
  // daemon had delivered FEWER messages than it had already seen. Here the chat saw one answer before
  // the stop (seq 1 of the old life); the turn cut off by the stop runs again after the restart and
  // the line queued behind it is answered: seqs 1 and 2 of the new life. Polling after=1, the chat
  // once never showed the first of them.
  it("shows the answers of the cut-off turn and of the message queued behind it after a restart", async () => {
    const fake = await startFakeChatCompletions()
    cleanup.push(() => fake.close())
    fake.script({ text: "answer zero" })
    fake.setDefault({ stall: true }) // the next turn never ends: "two" waits behind it
    const port = String(await freePort())
    const first = await startDaemon({
      env: {
        SWITCHBOARD_HTTP_PORT: port,
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: fake.url,
        SWITCHBOARD_MODEL: "test",
        SWITCHBOARD_SHUTDOWN_GRACE: "1 second"
      }
    })
    cleanup.push(() => first.stop())
    const { chat, seen } = startChat(first.url, "cli:tester")
    cleanup.push(async () => chat.kill())
    await seen("connected to", "err")
    chat.stdin.write("zero\n")
    await seen("answer zero")
    chat.stdin.write("one\n")
    await waitFor(() => fake.requests.length === 2, "the turn for one is running")
    chat.stdin.write("two\n")
    await waitFor(async () => (await first.json("/status")).body?.queue?.depth === 1, "two is queued")
    expect0(await first.stop())
    await seen("lost contact with switchboard", "err")

    // The echo model now: the cut-off turn runs again, then the queued one.
    const second = await startDaemon({ env: { SWITCHBOARD_HTTP_PORT: port }, stateDir: first.stateDir })
    cleanup.push(() => second.stop())
    await seen("reconnected", "err")
    await waitFor(async () => (await second.json("/v1/inbox/cli:tester?after=0")).body.messages.length === 2, "both answered")
    const inbox = (await second.json("/v1/inbox/cli:tester?after=0")).body
    assert.deepStrictEqual(inbox.messages.map((m: { seq: number; text: string }) => [m.seq, m.text]), [[1, "echo: one"], [2, "echo: two"]])
    await seen("echo: one")
    await seen("echo: two")
  }, 40_000)

  // Only the poller once recovered from a lost daemon: a line typed while the daemon restarted was
  // posted with no retry and ended the chat ("fetch failed", exit 1) instead of being sent once the
  // daemon was back.
  it("keeps running when a line is typed while the daemon is restarting, and sends it once it is back", async () => {
    const port = String(await freePort())
    const first = await startDaemon({ env: { SWITCHBOARD_HTTP_PORT: port } })
    cleanup.push(() => first.stop())
    const { chat, seen } = startChat(first.url, "cli:tester")
    cleanup.push(async () => chat.kill())
    chat.stdin.write("one\n")
    await seen("echo: one")
    expect0(await first.stop())
    await seen("lost contact with switchboard", "err")
    chat.stdin.write("two\n") // typed during the restart

    const second = await startDaemon({ env: { SWITCHBOARD_HTTP_PORT: port }, stateDir: first.stateDir })
    cleanup.push(() => second.stop())
    await seen("echo: two")
  }, 40_000)
})

describe("switchboard chat and a full queue", () => {
  // The chat once retried a line on ANY 503, `queue_full` included, and told the person "lost contact
  // with switchboard … retrying" while the daemon was up and answering; and since only the poller
  // cleared that state, the next real outage printed no "lost contact" line at all.
  it("chat does not say it lost contact when the daemon answers queue_full", async () => {
    const fake = await startFakeChatCompletions()
    cleanup.push(() => fake.close())
    fake.setDefault({ stall: true }) // the first turn never ends
    const daemon = await startDaemon({
      env: {
        SWITCHBOARD_HTTP_PORT: "0",
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: fake.url,
        SWITCHBOARD_MODEL: "test",
        SWITCHBOARD_QUEUE_CAP: "1",
        SWITCHBOARD_SHUTDOWN_GRACE: "1 second"
      }
    })
    cleanup.push(() => daemon.stop())
    const chat = spawn(process.execPath, [CLI, "chat", "--as", "cli:tester"], {
      cwd: ROOT,
      env: { PATH: process.env["PATH"] ?? "", SWITCHBOARD_URL: daemon.url },
      stdio: ["pipe", "pipe", "pipe"]
    })
    cleanup.push(async () => chat.kill())
    const output = { err: "" }
    chat.stderr.on("data", (c: Buffer) => (output.err += c.toString("utf8")))
    await waitFor(() => output.err.includes("connected to"), "chat connected")
    chat.stdin.write("one\n")
    await waitFor(() => fake.requests.length > 0, "the first turn is running")
    chat.stdin.write("two\n")
    await waitFor(async () => (await daemon.json("/status")).body?.queue?.depth === 1, "the second line is queued")
    chat.stdin.write("three\n") // the queue (cap 1) is full
    await waitFor(async () => (await daemon.json("/status")).body?.queue?.refused >= 2, "the chat tried twice")
    assert.notInclude(output.err, "lost contact", "the daemon is up: it refused the line because the queue is full")
  }, 40_000)
})
