// The built daemon (dist/main.js) with the Slack channel on, over Socket Mode to the fake Slack.
import { assert, describe, it } from "@effect/vitest"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { daemonScoped, runDaemonToExit } from "../../support/daemon.ts"
import { fakeSlack } from "../../support/fakeSlack.ts"

describe("Slack on the built daemon", () => {
  it.live("a channel talks to the echo agent; /status answers; others are ignored; health follows the connection", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const daemon = yield* daemonScoped({
        env: {
          SLACK_BOT_TOKEN: fake.botToken,
          SLACK_APP_TOKEN: fake.appToken,
          SLACK_API_ROOT: fake.apiRoot,
          SLACK_ALLOWED_CHANNEL_IDS: "C111, C222",
          SLACK_ALLOWED_USER_IDS: "UANN"
        }
      })
      yield* fake.waitFor("connected", fake.connected, 15_000)
      fake.message("C999", "intruder", { user: "UBOB" })
      fake.message("C111", "hello **daemon**")
      yield* fake.waitFor("the echo reply", () => fake.texts("C111").length === 1, 10_000)
      assert.deepStrictEqual(fake.texts("C111"), ["echo: hello *daemon*"])
      fake.message("C111", "/status", { threadTs: "1700000000.000001" })
      yield* fake.waitFor("the status reply", () => fake.texts("C111", "1700000000.000001").length === 1, 10_000)
      assert.match(fake.texts("C111", "1700000000.000001")[0]!, /^queue\s+0 waiting/m)
      assert.deepStrictEqual(fake.callsOf("chat.postMessage", "C999"), [])

      const status = yield* Effect.promise(() => daemon.json("/status"))
      assert.strictEqual(status.body.slack.state, "connected")
      assert.strictEqual(status.body.slack.denied, 1)
      assert.property(status.body.channels, "slack")
      assert.strictEqual((yield* Effect.promise(() => daemon.json("/health"))).body.checks.slack.status, "pass")

      // Slack unreachable: /health warns until the connection is back.
      fake.refuseConnections(true)
      fake.disconnect("cut")
      yield* Effect.promise(async () => {
        for (let i = 0; i < 400; i++) {
          const health = await daemon.json("/health")
          if (health.body.checks.slack.status === "warn") return
          await new Promise((r) => setTimeout(r, 25))
        }
        throw new Error("health never warned")
      })
      fake.refuseConnections(false)
      yield* fake.waitFor("reconnected", fake.connected, 15_000)
      fake.message("C111", "back")
      yield* fake.waitFor("the reply after the reconnect", () => fake.texts("C111").length === 2, 10_000)

      for (const secret of [fake.botToken, fake.appToken]) {
        assert.notInclude(JSON.stringify(status.body), secret)
        assert.notInclude(daemon.lines.join("\n"), secret)
      }
      assert.strictEqual(yield* Effect.promise(() => daemon.stop()), 0)
    }))

  it.live("a bot token without an app token stops the start with one line", () =>
    Effect.gen(function*() {
      const stateDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "switchboard-slack-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const run = yield* Effect.promise(() => runDaemonToExit({ SLACK_BOT_TOKEN: "xoxb-1", SWITCHBOARD_STATE_DIR: stateDir }))
      assert.strictEqual(run.code, 2)
      assert.match(run.stderr, /SLACK_APP_TOKEN: required with SLACK_BOT_TOKEN/)
      assert.notInclude(run.stderr + run.stdout, "xoxb-1")
    }))
})
