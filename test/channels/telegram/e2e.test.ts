// The built daemon (dist/main.js) with the Telegram channel on, pointed at the fake Bot API.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { daemonScoped, eventually } from "../../support/daemon.ts"
import { fakeBotApi, photoUpdate, textUpdate } from "../../support/fakeBotApi.ts"

describe("Telegram on the built daemon", () => {
  it.live("a chat talks to the echo agent; /status answers; other chats are ignored; shutdown confirms the offset", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const daemon = yield* daemonScoped({
        env: {
          TELEGRAM_BOT_TOKEN: fake.token,
          TELEGRAM_API_ROOT: fake.url,
          TELEGRAM_ALLOWED_CHAT_IDS: "111, 222",
          TELEGRAM_POLL_TIMEOUT: "5 seconds"
        }
      })
      yield* fake.waitFor("polling", () => fake.callsOf("getUpdates").length > 0, 10_000)
      assert.deepStrictEqual(
        (fake.callsOf("setMyCommands")[0]!.payload["commands"] as Array<{ command: string }>).map((c) => c.command),
        ["new", "stop", "status"]
      )

      const [, , last] = fake.push(textUpdate(999, "intruder"), photoUpdate(222), textUpdate(111, "hello **daemon**"))
      yield* fake.waitFor("the echo reply", () => fake.texts(111).length === 1, 10_000)
      assert.deepStrictEqual(fake.texts(111), ["echo: hello <b>daemon</b>"])
      yield* fake.waitFor("the unsupported reply", () => fake.texts(222).length === 1, 10_000)
      assert.match(fake.texts(222)[0]!, /not supported yet/)
      assert.deepStrictEqual(fake.callsOf("sendMessage", 999), [])

      fake.push(textUpdate(111, "/status"))
      yield* fake.waitFor("the status reply", () => fake.texts(111).length === 2, 10_000)
      assert.match(fake.texts(111)[1]!, /^queue\s+0 waiting/m)

      const status = yield* Effect.promise(() => daemon.json("/status"))
      assert.strictEqual(status.body.telegram.state, "polling")
      assert.strictEqual(status.body.telegram.denied, 1)
      assert.strictEqual(status.body.telegram.bot, "@switchboard_test_bot")
      assert.property(status.body.channels, "telegram")
      assert.notInclude(JSON.stringify(status.body), fake.token)
      assert.notInclude(daemon.lines.join("\n"), fake.token)
      const health = yield* Effect.promise(() => daemon.json("/health"))
      assert.strictEqual(health.body.checks.telegram.status, "pass")

      const code = yield* Effect.promise(() => daemon.stop())
      assert.strictEqual(code, 0)
      const offsets = fake.callsOf("getUpdates").map((c) => c.payload["offset"])
      assert.include(offsets, last! + 2, "the offset past /status was confirmed before exit")
    }))

  it.live("after a kill -9 the next start asks Telegram from the offset the store kept, and answers nothing twice", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const stateDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "switchboard-test-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const env = {
        TELEGRAM_BOT_TOKEN: fake.token,
        TELEGRAM_API_ROOT: fake.url,
        TELEGRAM_ALLOWED_CHAT_IDS: "111",
        TELEGRAM_POLL_TIMEOUT: "5 seconds"
      }
      const first = yield* daemonScoped({ env, stateDir })
      const [id] = fake.push(textUpdate(111, "before the crash"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1, 10_000)
      // Killed once the send is confirmed and forgotten (a kill between Telegram's 200 and that would
      // send it again: Telegram has no idempotent send).
      yield* Effect.promise(() => eventually(async () => ((await first.json("/status")).body.store.rows.outbox === 0 ? true : undefined)))
      yield* Effect.promise(() => first.stop("SIGKILL"))
      const calls = fake.callsOf("getUpdates").length

      yield* daemonScoped({ env, stateDir })
      yield* fake.waitFor("polling again", () => fake.callsOf("getUpdates").length > calls, 10_000)
      assert.strictEqual(fake.callsOf("getUpdates")[calls]!.payload["offset"], id! + 1, "the first poll after the restart")
      fake.push(textUpdate(111, "after the restart"))
      yield* fake.waitFor("the second reply", () => fake.texts(111).length === 2, 10_000)
      assert.deepStrictEqual(fake.texts(111), ["echo: before the crash", "echo: after the restart"])
    }))
})
