// The Discord channel end to end inside the process: the discord.js packages against the fake
// Discord (REST + gateway), the core graph with a scripted session. What a Discord user would see
// in the channel is what is asserted.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit } from "effect"
import { Router } from "../../../src/core/Router.ts"
import { Status } from "../../../src/core/Status.ts"
import { ALICE, BOB, BOT, fakeDiscord, type FakeDiscord, MALLORY } from "../../support/fakeDiscord.ts"
import { startDiscord } from "../../support/discordHarness.ts"

const section = (ctx: Context.Context<Status>) =>
  Effect.map(Context.get(ctx, Status).snapshot, (doc) => doc["discord"] as Record<string, any>)
const health = (ctx: Context.Context<Status>) =>
  Effect.map(Context.get(ctx, Status).health, (doc) => doc.checks["discord"]!)

const started = (fake: FakeDiscord) => fake.waitFor("the bot's session", () => fake.gateway.stats.readies >= 1 && fake.gateway.connected())

describe("Discord channel", () => {
  it.live("round trip: a message in an allowed channel reaches the agent and the reply quotes it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      const asked = fake.say("100", "hello **there**")
      yield* fake.waitFor("a reply in channel 100", () => fake.botTexts("100").length > 0)
      const reply = fake.messages("100").find((m) => m.author.id === BOT.id)!
      assert.strictEqual(reply.content, "echo: hello **there** [discord:100]")
      assert.strictEqual(reply.message_reference?.message_id, asked.id)
      const sent = fake.callsTo("POST", /^\/channels\/100\/messages$/)[0]!
      assert.deepStrictEqual(sent.body.allowed_mentions, { parse: [], replied_user: false }, "text never pings")
      yield* fake.waitFor("slash commands", () => fake.commands.length === 3)
      assert.deepStrictEqual(fake.commands.map((c) => c.name).sort(), ["new", "status", "stop"])
      assert.strictEqual(fake.gateway.stats.identifies[0]!.intents & (1 << 15), 1 << 15, "asks for message content")
      const s = yield* section(ctx)
      assert.strictEqual(s["state"], "ready")
      assert.strictEqual(s["bot"], "@switchboard")
      assert.strictEqual(s["received"], 1)
      assert.strictEqual((yield* health(ctx)).status, "pass")
    }))

  it.live("allowlist: denied and unaddressed messages never reach the agent; outbound is refused too", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      fake.defineChannel("800", { type: 1, recipients: [MALLORY] })
      fake.defineChannel("801", { type: 1, recipients: [ALICE] })
      fake.say("555", "chatter in a channel the bot can read")
      fake.say("555", "hey bot", { author: MALLORY, mentionBot: true })
      fake.say("800", "let me in", { author: MALLORY })
      fake.say("100", "beep", { author: { id: "1500", username: "otherbot", bot: true } })
      fake.say("555", "a mention from an allowed user", { author: ALICE, mentionBot: true })
      fake.say("801", "a DM from an allowed user", { author: ALICE })
      yield* fake.waitFor("the two allowed replies", () => fake.botTexts("555").length === 1 && fake.botTexts("801").length === 1)
      assert.deepStrictEqual(fake.botTexts("555"), ["echo: a mention from an allowed user [discord:555]"])
      assert.deepStrictEqual(fake.botTexts("801"), ["echo: a DM from an allowed user [discord:801]"])
      assert.deepStrictEqual(fake.botTexts("800"), [])
      assert.deepStrictEqual(fake.botTexts("100"), [])
      const s = yield* section(ctx)
      assert.strictEqual(s["denied"], 2)
      const queue = (yield* Context.get(ctx, Status).snapshot)["queue"] as { accepted: number }
      assert.strictEqual(queue.accepted, 2, "the model saw only the allowed messages")
      // Outbound: only allowed channels, channels an allowed user spoke in, and allowed users' DMs.
      const router = Context.get(ctx, Router)
      const refused = yield* router.deliver("discord:556", { kind: "notify", text: "psst" }, { explicit: true }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(refused))
      const forged = yield* router.deliver("discord:100:thread:556", { kind: "notify", text: "psst" }, { explicit: true }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(forged), "a thread id is checked against its parent")
      yield* router.deliver("discord:101", { kind: "notify", text: "to an allowed channel" }, { explicit: true })
      assert.deepStrictEqual(fake.botTexts("556"), [])
      assert.deepStrictEqual(fake.botTexts("101"), ["to an allowed channel"])
    }))

  it.live("threads: the source names the thread, the reply goes into it; an allowed channel's threads are allowed", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      yield* startDiscord(fake)
      yield* started(fake)
      fake.defineChannel("300", { type: 11, guild_id: "700", parent_id: "100" })
      fake.say("300", "in a thread")
      fake.say("100", "in the channel")
      yield* fake.waitFor("two replies", () => fake.botTexts("300").length === 1 && fake.botTexts("100").length === 1)
      assert.deepStrictEqual(fake.botTexts("300"), ["echo: in a thread [discord:100:thread:300]"])
      assert.deepStrictEqual(fake.botTexts("100"), ["echo: in the channel [discord:100]"])
    }))

  it.live("a 10,000-character reply with code blocks arrives in pieces of at most 2,000, every code block intact", () =>
    Effect.gen(function*() {
      const code = Array.from({ length: 120 }, (_, i) => `const line${i} = ${i} // ${"x".repeat(10)}`).join("\n")
      const prose = (n: number) => Array.from({ length: n }, (_, i) => `Paragraph ${i} says something useful about the build.`).join("\n\n")
      const longText = [prose(60), "```ts", code, "```", prose(30), "```sh\nnpm test\n```", prose(20), "THE END"].join("\n\n")
      assert.isAbove(longText.length, 9000)
      const fake = yield* fakeDiscord
      yield* startDiscord(fake, { longText })
      yield* started(fake)
      fake.say("100", "long")
      yield* fake.waitFor("the whole reply", () => fake.botTexts("100").join("\n").includes("THE END"))
      const parts = fake.botTexts("100")
      assert.isAbove(parts.length, 5)
      for (const part of parts) {
        assert.isAtMost(part.length, 2000)
        assert.strictEqual((part.match(/^```/gm) ?? []).length % 2, 0, `balanced fences in:\n${part.slice(0, 200)}`)
      }
      const joined = parts.join("\n").replace(/\n```\n```ts\n/g, "\n")
      for (let i = 0; i < 120; i++) assert.include(joined, `const line${i} = ${i}`)
      assert.strictEqual(parts.filter((p) => p.startsWith("```ts")).length, 2, "the long block continues as code in the next part")
    }))

  it.live("ask by button: another user's press is refused privately; the asker's press answers, disables the buttons, shows the choice", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      yield* startDiscord(fake)
      yield* started(fake)
      fake.say("100", "ask:Pick a colour|red|green")
      yield* fake.waitFor("the question", () => fake.messages("100").some((m) => m.components.length > 0))
      const question = fake.messages("100").find((m) => m.components.length > 0)!
      assert.deepStrictEqual(question.components[0].components.map((b: any) => b.label), ["red", "green"])
      fake.press(question, 1, BOB)
      yield* fake.waitFor("a private notice for bob", () => fake.ephemerals.length === 1)
      assert.match(fake.ephemerals[0]!.content, /only they can answer/)
      assert.strictEqual(fake.ephemerals[0]!.userId, BOB.id)
      fake.press(question, 1, ALICE)
      yield* fake.waitFor("the turn's reply", () => fake.botTexts("100").includes("you picked green"))
      assert.match(question.content, /✅ green/)
      assert.isTrue(question.components[0].components.every((b: any) => b.disabled === true))
      assert.strictEqual(question.components[0].components[1].style, 3, "the choice is green")
      fake.press(question, 0, ALICE)
      yield* fake.waitFor("a stale notice", () => fake.ephemerals.length === 2)
      assert.match(fake.ephemerals[1]!.content, /no longer open/)
    }))

  it.live("ask by typed answer: the typed option answers, the bot says so and disables the buttons", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      yield* startDiscord(fake)
      yield* started(fake)
      fake.say("100", "ask:Pick a colour|red|green")
      yield* fake.waitFor("the question", () => fake.messages("100").some((m) => m.components.length > 0))
      const question = fake.messages("100").find((m) => m.components.length > 0)!
      fake.say("100", "green")
      yield* fake.waitFor("the acknowledgement and the turn's reply", () =>
        fake.botTexts("100").includes("you picked green") && fake.botTexts("100").includes("Got it."))
      yield* fake.waitFor("buttons disabled", () => question.components[0].components.every((b: any) => b.disabled === true))
    }))

  it.live("a 429 with retry_after is waited out: the reply arrives once", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      yield* startDiscord(fake)
      yield* started(fake)
      fake.fail("POST", /^\/channels\/100\/messages$/, { status: 429, message: "You are being rate limited.", retryAfter: 0.4 })
      fake.say("100", "hello")
      yield* fake.waitFor("the reply", () => fake.botTexts("100").length === 1)
      const posts = fake.callsTo("POST", /^\/channels\/100\/messages$/)
      assert.strictEqual(posts.length, 2, "one refused, one accepted")
      assert.isAtLeast(posts[1]!.at - posts[0]!.at, 350, "the second waited for retry_after")
      assert.deepStrictEqual(fake.botTexts("100"), ["echo: hello [discord:100]"])
    }))

  it.live("a global 429 holds every route; a permanent error is recorded and not retried", () =>
    Effect.gen(function*() {
      const fake = yield* fakeDiscord
      const ctx = yield* startDiscord(fake)
      yield* started(fake)
      fake.fail("POST", /^\/channels\/100\/messages$/, { status: 429, message: "global", retryAfter: 0.4, global: true })
      fake.say("100", "one")
      yield* fake.waitFor("the reply", () => fake.botTexts("100").length === 1)
      fake.fail("POST", /^\/channels\/101\/messages$/, { status: 403, code: 50001, message: "Missing Access" })
      fake.say("101", "two")
      yield* fake.waitFor("the refusal", () => fake.callsTo("POST", /^\/channels\/101\/messages$/).length === 1)
      const s = yield* Effect.gen(function*() {
        for (;;) {
          const s = yield* section(ctx)
          if (s["permanentFailures"] === 1) return s
          yield* Effect.sleep("20 millis")
        }
      }).pipe(Effect.timeout("5 seconds"))
      assert.match(s["lastPermanentFailure"].reason, /403 Missing Access/)
      yield* Effect.sleep("300 millis")
      assert.strictEqual(fake.callsTo("POST", /^\/channels\/101\/messages$/).length, 1, "not retried")
    }))
})
