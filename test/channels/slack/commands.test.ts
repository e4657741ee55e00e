// /stop, /status and /new as the Slack app's slash commands (Socket Mode): the same as typing them,
// in the channel they were used in; a person outside the allowlists gets nothing.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { Dispatcher } from "../../../src/core/Dispatcher.ts"
import { Status } from "../../../src/core/Status.ts"
import { fakeSlack } from "../../support/fakeSlack.ts"
import { startSlack } from "../../support/slackHarness.ts"
import { eventually } from "../../support/telegramHarness.ts"

describe("Slack slash commands", () => {
  it.live("/status answers in its channel, /stop stops that channel's turn, and both are acknowledged", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      yield* fake.waitFor("connected", fake.connected)
      fake.message("C111", "slow:never")
      yield* eventually("the turn runs", Effect.map(Context.get(ctx, Dispatcher).active, (a) => a?.source === "slack:C111"))

      const status = fake.slash("C111", "/status")
      yield* fake.waitFor("the status reply", () => fake.texts("C111").some((t) => /queue/.test(t)))
      assert.isTrue(status.acked)
      assert.deepStrictEqual(fake.texts("C222"), [])

      const stop = fake.slash("C111", "/stop")
      yield* fake.waitFor("the stopped turn's notice", () => fake.texts("C111").includes("Stopped."))
      assert.isTrue(stop.acked)
      assert.isUndefined(yield* Context.get(ctx, Dispatcher).active)
    }))

  it.live("a slash command from a person and channel that are not allowed never reaches the gateway", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      const ctx = yield* startSlack(fake)
      yield* fake.waitFor("connected", fake.connected)
      const status = Context.get(ctx, Status)
      const accepted = () => Effect.map(status.snapshot, (d) => (d["queue"] as { accepted: number }).accepted)
      const before = yield* accepted()
      const denied = fake.slash("C999", "/new", "UBOB")
      yield* fake.waitFor("acknowledged", () => denied.acked)
      assert.strictEqual(((yield* status.snapshot)["slack"] as { denied: number }).denied, 1)
      assert.strictEqual(yield* accepted(), before, "the denied /new was queued")
      fake.slash("C111", "/new")
      yield* fake.waitFor("the allowed /new's answer", () => fake.texts("C111").includes("Started a new conversation."))
    }))
})
