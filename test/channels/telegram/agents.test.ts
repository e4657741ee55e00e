// A Telegram chat that the allowlist lets in but no agent is bound to (SWITCHBOARD_AGENTS_FILE): the
// person is told so in the chat, and nothing reaches an agent; a bound chat is answered.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Option } from "effect"
import { Status } from "../../../src/core/Status.ts"
import { fakeBotApi, textUpdate } from "../../support/fakeBotApi.ts"
import { startTelegram } from "../../support/telegramHarness.ts"

const agentsFile = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-agents-"))
    const file = join(dir, "agents.json")
    writeFileSync(file, JSON.stringify({ agents: [{ name: "work", scope: "per-chat", bindings: ["telegram:111"] }] }))
    return { dir, file }
  }),
  ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

describe("Telegram and agent bindings", () => {
  it.live("an allowed chat no agent is bound to gets a reply saying so; the bound chat is answered", () =>
    Effect.gen(function*() {
      const { file } = yield* agentsFile
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake, {
        patch: (s) => ({ ...s, agents: { ...s.agents, file: Option.some(file) } })
      })
      fake.push(textUpdate(222, "hello?"), textUpdate(111, "hello"))
      yield* fake.waitFor("both chats answered", () => fake.texts(222).length > 0 && fake.texts(111).length > 0)
      assert.deepStrictEqual(fake.texts(222), ["I can't take that right now: no agent is bound to telegram:222."])
      assert.deepStrictEqual(fake.texts(111), ["echo: hello [telegram:111]"])
      const queue = (yield* Context.get(ctx, Status).snapshot)["queue"] as { accepted: number }
      assert.strictEqual(queue.accepted, 1)
    }))
})
