// The Socket Mode connection: acknowledgements, Slack's re-deliveries, refreshes and drops. Nothing
// a person wrote is lost or answered twice, and /health says so while the connection is down.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Status } from "../../../src/core/Status.ts"
import { fakeSlack } from "../../support/fakeSlack.ts"
import { startSlack } from "../../support/slackHarness.ts"

const echoesIn = (texts: ReadonlyArray<string>) => texts.filter((t) => t.startsWith("echo: "))

describe("Slack Socket Mode connection", () => {
  it.live("a re-delivered event (retry_attempt 1) is answered once", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      yield* fake.waitFor("connected", fake.connected)
      const envelope = fake.message("C111", "once")
      yield* fake.waitFor("the reply", () => fake.texts("C111").length === 1)
      fake.redeliver(envelope)
      fake.message("C111", "next")
      yield* fake.waitFor("the next reply", () => fake.texts("C111").length === 2)
      assert.deepStrictEqual(fake.texts("C111"), ["echo: once [slack:C111]", "echo: next [slack:C111]"])
      assert.strictEqual(envelope.retry_attempt, 1)
      const section = (yield* Context.get(ctx, Status).snapshot)["slack"] as Record<string, number>
      assert.strictEqual(section["duplicates"], 1)
    }))

  it.live("a dropped connection in the middle of a burst: reconnected, nothing lost, nothing answered twice", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      yield* startSlack(fake)
      yield* fake.waitFor("connected", fake.connected)
      const burst = Array.from({ length: 20 }, (_, i) => `m${i}`)
      for (const [i, text] of burst.entries()) {
        fake.message(i % 2 === 0 ? "C111" : "C222", text)
        if (i === 7) fake.disconnect("cut") // some sent, some acknowledged, some not yet
        if (i === 13) yield* fake.waitFor("reconnected", fake.connected, 10_000)
      }
      yield* fake.waitFor("every message answered", () => echoesIn([...fake.texts("C111"), ...fake.texts("C222")]).length >= 20, 15_000)
      const answered = echoesIn([...fake.texts("C111"), ...fake.texts("C222")]).map((t) => t.split(" ")[1]!)
      assert.deepStrictEqual([...answered].sort(), [...burst].sort())
      assert.isAtLeast(fake.connections(), 2)
      assert.isTrue(fake.envelopes.every((e) => e.acked))
      // Each conversation's answers in the order they were written.
      const order = (channel: string) => echoesIn(fake.texts(channel)).map((t) => Number(t.split(" ")[1]!.slice(1)))
      assert.deepStrictEqual(order("C111"), [...order("C111")].sort((a, b) => a - b))
    }))

  it.live("Slack's `disconnect` (refresh) is followed by a new connection at once; health warns only while it is down", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      const status = Context.get(ctx, Status)
      yield* fake.waitFor("connected", fake.connected)
      fake.disconnect("message")
      yield* fake.waitFor("a second connection", () => fake.connections() === 2 && fake.connected(), 10_000)
      fake.message("C111", "after the refresh")
      yield* fake.waitFor("the reply", () => fake.texts("C111").length === 1)

      fake.refuseConnections(true)
      fake.disconnect("cut")
      yield* fake.waitFor("a refused attempt", () => fake.callsOf("apps.connections.open").length >= 4, 10_000)
      const down = yield* status.health
      assert.strictEqual(down.checks["slack"]?.status, "warn")
      assert.match(down.checks["slack"]?.detail ?? "", /disconnected/)
      fake.refuseConnections(false)
      yield* fake.waitFor("connected again", fake.connected, 15_000)
      const up = yield* Effect.repeat(status.health, { until: (h) => h.checks["slack"]?.status === "pass", times: 200 })
      assert.strictEqual(up.checks["slack"]?.status, "pass")
    }))
})
