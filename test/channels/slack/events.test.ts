// HTTP Events mode on the built daemon: Slack's signed requests to SLACK_EVENTS_PATH, no Socket Mode.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { checkSignature, signatureOf } from "../../../src/channels/slack/signature.ts"
import { daemonScoped, eventually } from "../../support/daemon.ts"
import { fakeSlack } from "../../support/fakeSlack.ts"

const SECRET = "fake-signing-secret"

describe("Slack request signatures", () => {
  it("accepts Slack's signature, refuses a wrong one, a missing one and an old timestamp", () => {
    const body = "{\"type\":\"event_callback\"}"
    const now = 1_700_000_000
    const signature = signatureOf(SECRET, String(now), body)
    assert.strictEqual(checkSignature({ secret: SECRET, timestamp: String(now), signature, body, nowSeconds: now + 30 }), "ok")
    assert.strictEqual(checkSignature({ secret: "other", timestamp: String(now), signature, body, nowSeconds: now }), "mismatch")
    assert.strictEqual(checkSignature({ secret: SECRET, timestamp: String(now), signature, body: body + " ", nowSeconds: now }), "mismatch")
    assert.strictEqual(checkSignature({ secret: SECRET, timestamp: undefined, signature, body, nowSeconds: now }), "missing")
    assert.strictEqual(checkSignature({ secret: SECRET, timestamp: String(now), signature, body, nowSeconds: now + 301 }), "stale")
  })
})

describe("Slack HTTP events on the built daemon", () => {
  it.live("signed events reach the agent once, button presses arrive form-encoded, unsigned or replayed requests are refused", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const daemon = yield* daemonScoped({
        env: {
          SLACK_BOT_TOKEN: fake.botToken,
          SLACK_SIGNING_SECRET: SECRET,
          SLACK_API_ROOT: fake.apiRoot,
          SLACK_ALLOWED_CHANNEL_IDS: "C111"
        }
      })
      const post = (body: string, options: { type?: string; at?: number; secret?: string; retry?: number } = {}) => {
        const ts = String(options.at ?? Math.floor(Date.now() / 1000))
        return Effect.promise(async () => {
          const res = await fetch(`${daemon.url}/slack/events`, {
            method: "POST",
            headers: {
              "content-type": options.type ?? "application/json",
              "x-slack-request-timestamp": ts,
              "x-slack-signature": signatureOf(options.secret ?? SECRET, ts, body),
              ...(options.retry !== undefined ? { "x-slack-retry-num": String(options.retry) } : {})
            },
            body
          })
          return { status: res.status, body: await res.json() as any }
        })
      }
      const event = (text: string, ts: string) =>
        JSON.stringify({ type: "event_callback", event_id: `Ev${ts}`, event: { type: "message", channel: "C111", user: "UANN", text, ts } })

      // The channel (and its route) starts once the server listens: /health says when it is up.
      yield* Effect.promise(() => eventually(async () => (await daemon.json("/health")).body.checks.channels?.status === "pass" || undefined))
      assert.deepStrictEqual(yield* post(JSON.stringify({ type: "url_verification", challenge: "abc" })), { status: 200, body: { challenge: "abc" } })
      assert.strictEqual((yield* post(event("hello", "1700000001.000100"))).status, 200)
      yield* fake.waitFor("the reply", () => fake.texts("C111").length === 1, 10_000)
      assert.deepStrictEqual(fake.texts("C111"), ["echo: hello"])
      // Slack's retry of the same event is answered once.
      assert.strictEqual((yield* post(event("hello", "1700000001.000100"), { retry: 1 })).status, 200)
      assert.strictEqual((yield* post(event("wrong secret", "1700000002.000100"), { secret: "guess" })).status, 401)
      assert.strictEqual((yield* post(event("replayed", "1700000003.000100"), { at: Math.floor(Date.now() / 1000) - 600 })).status, 401)

      // A press arrives form-encoded, as Slack's interactivity requests do (this one on a question
      // the daemon never asked: the presser is told, in an ephemeral notice).
      const press = {
        type: "block_actions",
        user: { id: "UANN" },
        channel: { id: "C111" },
        message: { ts: "1700000000.000900", text: "Old question" },
        actions: [{ action_id: "sb_answer_0", value: "q-gone|0", action_ts: "1700000005.000100" }]
      }
      const form = new URLSearchParams({ payload: JSON.stringify(press) }).toString()
      assert.strictEqual((yield* post(form, { type: "application/x-www-form-urlencoded" })).status, 200)
      yield* fake.waitFor("the notice", () => fake.callsOf("chat.postEphemeral").length === 1, 10_000)
      assert.strictEqual(fake.callsOf("chat.postEphemeral")[0]!.payload["text"], "This question is no longer open.")
      assert.deepStrictEqual(fake.texts("C111"), ["echo: hello"])

      const status = yield* Effect.promise(() => daemon.json("/status"))
      assert.strictEqual(status.body.slack.state, "http")
      assert.strictEqual((yield* Effect.promise(() => daemon.json("/health"))).body.checks.slack.status, "pass")
      assert.strictEqual(fake.connections(), 0)
      assert.notInclude(daemon.lines.join("\n"), SECRET)
    }))
})
