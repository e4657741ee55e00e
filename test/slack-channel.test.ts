// The Slack channel inside the process: @slack/socket-mode and @slack/web-api against the fake
// Slack, the core graph with a scripted session. What a person in Slack would see is asserted.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { RequestLog } from "../src/core/RequestLog.ts"
import { Status } from "../src/core/Status.ts"
import { BOT_USER_ID, fakeSlack } from "./support/fakeSlack.ts"
import { startSlack } from "./support/slackHarness.ts"

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
