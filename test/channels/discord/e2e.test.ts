// The built daemon (dist/main.js) with the Discord channel on, pointed at the fake Discord.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { daemonScoped, eventually } from "../../support/daemon.ts"
import { BOT, fakeDiscord, MALLORY } from "../../support/fakeDiscord.ts"

describe("Discord on the built daemon", () => {
  it.live("a channel talks to the echo agent; strangers are ignored; slash commands work; a dropped connection loses nothing; shutdown closes cleanly", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const daemon = yield* daemonScoped({
        env: {
          DISCORD_BOT_TOKEN: fake.token,
          DISCORD_API_ROOT: fake.apiRoot,
          DISCORD_ALLOWED_CHANNEL_IDS: "100",
          DISCORD_ALLOWED_USER_IDS: "1001"
        }
      })
      yield* fake.waitFor("the session and its commands", () => fake.gateway.connected() && fake.commands.length === 3, 15_000)
      yield* Effect.promise(() => eventually(async () => (await daemon.json("/health")).body.checks.discord?.status === "pass" || undefined))

      fake.say("555", "let me in", { author: MALLORY, mentionBot: true })
      const hello = fake.say("100", "hello **daemon**")
      yield* fake.waitFor("the echo reply", () => fake.botTexts("100").length === 1)
      assert.deepStrictEqual(fake.botTexts("100"), ["echo: hello **daemon**"])
      assert.strictEqual(fake.messages("100").find((m) => m.author.id === BOT.id)!.message_reference?.message_id, hello.id)
      assert.deepStrictEqual(fake.botTexts("555"), [])

      fake.slash("100", "status")
      yield* fake.waitFor("the status answer", () => fake.botTexts("100").length === 2)
      assert.match(fake.botTexts("100")[1]!, /^queue\s+0 waiting/m)

      fake.gateway.disconnect(4000)
      fake.say("100", "while reconnecting")
      yield* fake.waitFor("the reply after the resume", () => fake.botTexts("100").length === 3)
      assert.strictEqual(fake.botTexts("100")[2], "echo: while reconnecting")

      const status = yield* Effect.promise(() => daemon.json("/status"))
      assert.strictEqual(status.body.discord.state, "ready")
      assert.strictEqual(status.body.discord.denied, 1)
      assert.strictEqual(status.body.discord.resumes, 1)
      assert.property(status.body.channels, "discord")
      assert.notInclude(JSON.stringify(status.body), fake.token)
      assert.notInclude(daemon.lines.join("\n"), fake.token)
      const metrics = yield* Effect.promise(() => daemon.fetch("/metrics").then((r) => r.text()))
      assert.match(metrics, /switchboard_discord_gateway_up(\{[^}]*\})? 1/)

      const code = yield* Effect.promise(() => daemon.stop())
      assert.strictEqual(code, 0)
      assert.include(fake.gateway.stats.clientCloses, 1000, "the gateway was closed normally")
    }))
})
