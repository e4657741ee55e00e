// The Discord gateway as a user would notice it: a connection that drops in the middle of a burst
// (resumed, or a session lost for good), heartbeats nobody acknowledges, an outage /health shows,
// a token or intent Discord refuses. Nothing sent during a gap is lost or answered twice.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Status } from "../../../src/core/Status.ts"
import { fakeDiscord, type FakeDiscord } from "../../support/fakeDiscord.ts"
import { startDiscord } from "../../support/discordHarness.ts"
import { eventually, Gates } from "../../support/telegramHarness.ts"

const health = (ctx: Context.Context<Status>) => Effect.map(Context.get(ctx, Status).health, (doc) => doc.checks["discord"]!)
const section = (ctx: Context.Context<Status>) =>
  Effect.map(Context.get(ctx, Status).snapshot, (doc) => doc["discord"] as Record<string, any>)
const started = (fake: FakeDiscord) => fake.waitFor("the bot's session", () => fake.gateway.stats.readies >= 1 && fake.gateway.connected())

/** Each expected reply exactly once, in order. */
const assertOnce = (fake: FakeDiscord, channel: string, texts: ReadonlyArray<string>) => {
  const got = fake.botTexts(channel)
  assert.deepStrictEqual(got, texts.map((t) => `echo: ${t} [discord:${channel}]`))
}

describe("Discord gateway", () => {
  it.live("a reconnect in the middle of a burst: resumed, then a lost session caught up over REST; nothing lost or doubled", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      fake.gateway.options.resumeOverlap = 3 // the resume also redelivers three events already handled
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      const burst = Array.from({ length: 15 }, (_, i) => `m${i + 1}`)
      for (const text of burst.slice(0, 5)) fake.say("100", text)
      fake.gateway.disconnect(4000) // resumable: Discord keeps the events for the session
      for (const text of burst.slice(5, 10)) fake.say("100", text)
      yield* fake.waitFor("ten replies", () => fake.botTexts("100").length >= 10)
      assert.strictEqual(fake.gateway.stats.resumes, 1)
      assert.strictEqual(fake.gateway.stats.readies, 1, "resumed, not a new session")

      fake.gateway.disconnect(4000, false) // the session is gone: Discord will not replay the gap
      for (const text of burst.slice(10)) fake.say("100", text)
      yield* fake.waitFor("fifteen replies", () => fake.botTexts("100").length >= 15)
      assert.strictEqual(fake.gateway.stats.readies, 2, "a new session")
      yield* Effect.sleep("300 millis") // a duplicate would be on its way by now
      assertOnce(fake, "100", burst)
      const s = yield* section(ctx)
      assert.strictEqual(s["caughtUp"], 5)
      assert.isAtLeast(s["duplicates"], 3)
      assert.strictEqual((yield* health(ctx)).status, "pass")
    }))

  it.live("heartbeats: acknowledged ones keep the session; unacknowledged ones make the client resume", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      fake.gateway.options.heartbeatMs = 200
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      yield* fake.waitFor("a few heartbeats", () => fake.gateway.stats.heartbeats >= 3)
      assert.strictEqual(fake.gateway.stats.resumes, 0)
      fake.gateway.options.ackHeartbeats = false
      yield* fake.waitFor("a resume after a zombie connection", () => fake.gateway.stats.resumes >= 1)
      fake.gateway.options.ackHeartbeats = true
      fake.say("100", "still there?")
      yield* fake.waitFor("the reply", () => fake.botTexts("100").length === 1)
      assert.isAtLeast((yield* section(ctx))["resumes"], 1)
    }))

  it.live("/health warns while the gateway is down and passes again once it is back; messages wait for the resume", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake)
      yield* eventually("up", Effect.map(health(ctx), (h) => h.status === "pass"))
      fake.gateway.options.down = true
      fake.gateway.disconnect(4000)
      fake.say("100", "during the outage")
      yield* eventually("a warning", Effect.map(health(ctx), (h) => h.status === "warn"))
      const warned = yield* health(ctx)
      assert.match(warned.detail ?? "", /gateway disconnected since .* \(close code \d+\); reconnecting/)
      yield* fake.waitFor("a few refused attempts", () => fake.gateway.stats.connections >= 3)
      fake.gateway.options.down = false
      yield* fake.waitFor("the reply", () => fake.botTexts("100").length === 1, 20_000)
      assertOnce(fake, "100", ["during the outage"])
      yield* eventually("pass again", Effect.map(health(ctx), (h) => h.status === "pass"))
    }))

  it.live("Message Content intent off in the portal: /health fails and says what to switch on", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      fake.gateway.options.messageContentDisabled = true
      const ctx = yield* startDiscord(fake)
      yield* eventually("a failing check", Effect.map(health(ctx), (h) => h.status === "fail"))
      assert.match((yield* health(ctx)).detail ?? "", /Message Content Intent/)
      const connections = fake.gateway.stats.connections
      yield* Effect.sleep("1500 millis")
      assert.strictEqual(fake.gateway.stats.connections, connections, "no reconnect loop against a refusal")
    }))

  it.live("a token Discord refuses: /health fails and names DISCORD_BOT_TOKEN, without showing the token", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake, { token: "wrong-token.x.y" })
      yield* eventually("a failing check", Effect.map(health(ctx), (h) => h.status === "fail"))
      const detail = (yield* health(ctx)).detail ?? ""
      assert.match(detail, /DISCORD_BOT_TOKEN/)
      assert.notInclude(JSON.stringify(yield* Context.get(ctx, Status).snapshot), "wrong-token")
    }))

  it.live("a message dispatched twice is answered once", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      yield* startDiscord(fake)
      yield* started(fake)
      const first = fake.say("100", "once")
      fake.say("100", "once", { id: first.id })
      fake.say("100", "next")
      yield* fake.waitFor("the next reply", () => fake.botTexts("100").length === 2)
      assertOnce(fake, "100", ["once", "next"])
    }))

  it.live("/stop, /status and /new as slash commands and as text", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      fake.slash("100", "status")
      yield* fake.waitFor("the status answer", () => fake.botTexts("100").length === 1)
      assert.match(fake.botTexts("100")[0]!, /^queue\s+0 waiting/m)
      yield* Effect.sleep("200 millis")
      assert.strictEqual(fake.botTexts("100").length, 1, "shown once: as the command's response")

      fake.slash("100", "new")
      yield* fake.waitFor("/new answered", () => fake.botTexts("100").includes("Started a new conversation."))
      assert.strictEqual(fake.messages("100").filter((m) => m.thinking === true).length, 0, "the thinking… placeholder was replaced")

      fake.say("100", "slow:g")
      yield* eventually("a running turn", Effect.map(Context.get(ctx, Status).snapshot, (d) => d["active"] !== null))
      fake.say("100", "/stop", { mentionBot: true })
      yield* fake.waitFor("stopped", () => fake.botTexts("100").includes("Stopped."))
      fake.say("100", "/stop")
      yield* fake.waitFor("nothing to stop", () => fake.botTexts("100").includes("Nothing is running for this chat."))

      fake.slash("555", "status", { id: "1600", username: "stranger" })
      yield* fake.waitFor("a private refusal", () => fake.ephemerals.length === 1)
      assert.match(fake.ephemerals[0]!.content, /not allowed/)
      assert.deepStrictEqual(fake.botTexts("555"), [])
    }))

  it.live("typing shows while the channel's turn runs, and stops with it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      fake.say("100", "slow:t")
      yield* fake.waitFor("typing in 100", () => fake.callsTo("POST", /^\/channels\/100\/typing$/).length === 1)
      yield* Context.get(ctx, Gates).open("t")
      yield* fake.waitFor("the reply", () => fake.botTexts("100").length === 1)
      yield* Effect.sleep("700 millis")
      assert.strictEqual(fake.callsTo("POST", /^\/channels\/100\/typing$/).length, 1)
      assert.deepStrictEqual(fake.callsTo("POST", /^\/channels\/101\/typing$/), [])
    }))
})
