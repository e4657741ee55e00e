// The Slack channel inside the process: @slack/socket-mode and @slack/web-api against the fake
// Slack, the core graph with a scripted session. What a person in Slack would see is asserted.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { chunkMrkdwn, SLACK_LIMIT } from "../../../src/channels/slack/chunk.ts"
import { renderMrkdwn } from "../../../src/channels/slack/render.ts"
import { RequestLog } from "../../../src/core/RequestLog.ts"
import { Router } from "../../../src/core/Router.ts"
import { Status } from "../../../src/core/Status.ts"
import { BOT_USER_ID, fakeSlack } from "../../support/fakeSlack.ts"
import { startSlack } from "../../support/slackHarness.ts"
import { longSlackReply } from "../../support/longReply.ts"

const slackSection = (ctx: Context.Context<Status>) =>
  Effect.map(Context.get(ctx, Status).snapshot, (doc) => doc["slack"] as Record<string, any>)

describe("Slack channel", () => {
  it.live("round trip: a message reaches the agent, the reply comes back as mrkdwn, the envelope is acknowledged", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      yield* fake.waitFor("connected", fake.connected)
      const envelope = fake.message("C111", `<@${BOT_USER_ID}> hello **there** &amp; you`)
      yield* fake.waitFor("a reply in C111", () => fake.texts("C111").length > 0)
      assert.deepStrictEqual(fake.texts("C111"), ["echo: hello *there* &amp; you [slack:C111]"])
      assert.isTrue(envelope.acked)
      const section = yield* slackSection(ctx)
      assert.strictEqual(section["state"], "connected")
      assert.strictEqual(section["bot"], "@switchboard")
      assert.strictEqual(section["received"], 1)
      assert.strictEqual((yield* Context.get(ctx, Status).health).checks["slack"]?.status, "pass")
    }))

  it.live("threads: the source names the thread and the reply goes back into it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      yield* startSlack(fake)
      fake.message("C111", "in a thread", { threadTs: "1700000000.000001" })
      fake.message("C111", "top level")
      yield* fake.waitFor("two replies", () => fake.callsOf("chat.postMessage", "C111").length === 2)
      assert.deepStrictEqual(fake.texts("C111", "1700000000.000001"), ["echo: in a thread [slack:C111:thread:1700000000.000001]"])
      assert.deepStrictEqual(fake.texts("C111"), ["echo: top level [slack:C111]"])
    }))

  it.live("allowlist: other channels and people never reach the agent; bots and our own posts are ignored; outbound is refused too", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      const requests = Context.get(ctx, RequestLog)
      const denied = [
        fake.message("C999", "let me in", { user: "UBOB" }),
        fake.message("D999", "/status", { user: "UBOB" }),
        fake.message("C111", "from a bot", { botId: "BOTHER" }),
        fake.message("C111", "our own echo", { user: BOT_USER_ID }),
        fake.message("C111", "edited", { subtype: "message_changed" })
      ]
      // An allowed user in a DM that is not a listed channel is let in.
      fake.message("D123", "hi from ann", { user: "UANN" })
      yield* fake.waitFor("the DM's reply", () => fake.texts("D123").length > 0)
      yield* fake.waitFor("every envelope acknowledged", () => denied.every((e) => e.acked))
      assert.deepStrictEqual(fake.calls.filter((c) => c.method === "chat.postMessage").map((c) => c.payload["channel"]), ["D123"])
      for (const e of denied) {
        const ts = e.payload["event"]["ts"] as string
        assert.isUndefined(yield* requests.get(`slack:${e.payload["event"]["channel"]}:${ts}`), "the agent never saw it")
      }
      const section = yield* slackSection(ctx)
      assert.strictEqual(section["denied"], 2)
      assert.strictEqual(section["ignored"], 3)
      const queue = (yield* Context.get(ctx, Status).snapshot)["queue"] as { accepted: number }
      assert.strictEqual(queue.accepted, 1)
    }))
})

describe("Slack channel: outbound", () => {
  it.live("a message is only posted to allowed conversations, DMs of allowed users included", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      const router = Context.get(ctx, Router)
      fake.conversations.set("D555", { is_im: true, user: "UANN" })
      fake.conversations.set("D666", { is_im: true, user: "UBOB" })
      assert.strictEqual(yield* router.deliver("slack:C222", { kind: "notify", text: "to a listed channel" }), "delivered")
      assert.strictEqual(yield* router.deliver("slack:D555", { kind: "notify", text: "to ann's DM" }), "delivered")
      for (const target of ["slack:C999", "slack:D666", "slack:not-a-channel"]) {
        const refused = yield* router.deliver(target, { kind: "notify", text: "no" }).pipe(Effect.flip)
        assert.strictEqual(refused._tag, "DeliveryFailed", target)
      }
      assert.deepStrictEqual(fake.callsOf("chat.postMessage").map((c) => c.payload["channel"]), ["C222", "D555"])
    }))

  it.live("a 10,000-character reply with code blocks arrives in order, in messages within Slack's limit, code blocks whole", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const markdown = longSlackReply(10_000)
      yield* startSlack(fake, { longText: markdown })
      fake.message("C111", "long")
      const expected = chunkMrkdwn(renderMrkdwn(markdown))
      yield* fake.waitFor("every part", () => fake.texts("C111").length === expected.length, 10_000)
      const texts = fake.texts("C111")
      assert.deepStrictEqual(texts, expected)
      assert.isAbove(texts.length, 3)
      for (const t of texts) {
        assert.isAtMost(t.length, SLACK_LIMIT)
        assert.strictEqual(t.split("\n").filter((l) => l === "```").length % 2, 0)
      }
      assert.include(texts.join("\n"), "const v3_5 = a &lt; b &amp;&amp; c &gt; d")
    }))

  it.live("a 429 is waited out (Retry-After), on the first part by the Router and on a later part by the channel; nothing is posted twice", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const markdown = longSlackReply(10_000)
      const ctx = yield* startSlack(fake, { longText: markdown })
      fake.fail("chat.postMessage", { rateLimited: 1 }, { times: 1 })
      fake.message("C111", "hello")
      yield* fake.waitFor("the reply, posted again", () => fake.texts("C111").length === 2, 10_000)
      const [limited, posted] = fake.callsOf("chat.postMessage", "C111")
      assert.isAtLeast(posted!.at - limited!.at, 900, "waited the second Slack asked for")
      // A later part: the channel waits it out itself, the parts before it are not posted again.
      fake.fail("chat.postMessage", { rateLimited: 1 }, { times: 1, when: () => fake.callsOf("chat.postMessage", "C111").length === 4 })
      fake.message("C111", "long")
      const expected = chunkMrkdwn(renderMrkdwn(markdown))
      yield* fake.waitFor("every part", () => fake.texts("C111").length === 2 + 1 + expected.length, 15_000)
      // The refused second part, then the same part again once the second was over, then the rest.
      assert.deepStrictEqual(fake.texts("C111").slice(2), [expected[0]!, expected[1]!, ...expected.slice(1)])
      const section = yield* slackSection(ctx)
      assert.strictEqual(section["rateLimited"], 2)
    }))

  it.live("a permanent error (channel_not_found) is recorded, not retried", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      fake.fail("chat.postMessage", { error: "channel_not_found" }, { times: 5 })
      const failed = yield* Context.get(ctx, Router).deliver("slack:C222", { kind: "notify", text: "lost" }).pipe(Effect.flip)
      assert.strictEqual(failed._tag, "DeliveryFailed")
      assert.strictEqual(fake.callsOf("chat.postMessage").length, 1)
      const section = yield* slackSection(ctx)
      assert.strictEqual(section["permanentFailures"], 1)
      assert.strictEqual(section["lastPermanentFailure"].reason, "channel_not_found")
    }))
})
