// `ask` in Slack: the question's options as Block Kit buttons; a press (or a typed answer) answers
// it and the buttons give way to the choice; presses by someone else or on a closed question get
// an ephemeral notice only the presser sees.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { buttonsOf, fakeSlack, type FakeSlack, type WebCall } from "../../support/fakeSlack.ts"
import { startSlack } from "../../support/slackHarness.ts"

const askIn = (fake: FakeSlack, channel: string) =>
  Effect.gen(function*() {
    fake.message(channel, "ask:Pick a colour|red|green", { user: "UANN" })
    yield* fake.waitFor("the question", () => fake.callsOf("chat.postMessage", channel).some((c) => c.payload["blocks"] !== undefined))
    return fake.callsOf("chat.postMessage", channel).find((c) => c.payload["blocks"] !== undefined)!
  })

const updatesOf = (fake: FakeSlack, question: WebCall) =>
  fake.callsOf("chat.update", String(question.payload["channel"])).filter((c) => c.payload["ts"] === question.result?.["ts"])

const ephemeralsFor = (fake: FakeSlack, user: string) =>
  fake.callsOf("chat.postEphemeral").filter((c) => c.payload["user"] === user).map((c) => String(c.payload["text"]))

describe("Slack ask", () => {
  it.live("by button: the press answers, the buttons are replaced by the choice; someone else's press gets a notice", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      yield* startSlack(fake)
      const question = yield* askIn(fake, "C111")
      assert.deepStrictEqual(buttonsOf(question).map((b) => b.text), ["red", "green"])
      assert.match(String(question.payload["text"]), /Pick a colour/)

      fake.press(question, 0, "UBOB")
      yield* fake.waitFor("a notice for bob", () => ephemeralsFor(fake, "UBOB").length === 1)
      assert.deepStrictEqual(ephemeralsFor(fake, "UBOB"), ["This question is for <@UANN>."])

      const press = fake.press(question, 1, "UANN")
      yield* fake.waitFor("the answer's reply", () => fake.texts("C111").includes("you picked green"))
      assert.isTrue(press.acked)
      yield* fake.waitFor("the question updated", () => updatesOf(fake, question).length === 1)
      const blocks = updatesOf(fake, question)[0]!.payload["blocks"] as Array<any>
      assert.notInclude(blocks.map((b) => b.type), "actions")
      assert.match(JSON.stringify(blocks), /✅ \*green\* \(<@UANN>\)/)

      // A press on the closed question: only the presser hears about it.
      fake.press(question, 0, "UANN")
      yield* fake.waitFor("a notice for ann", () => ephemeralsFor(fake, "UANN").length === 1)
      assert.match(ephemeralsFor(fake, "UANN")[0]!, /already been answered|no longer open/)
      assert.strictEqual(fake.texts("C111").filter((t) => t.startsWith("you picked")).length, 1)
    }))

  it.live("by typed answer: the message answers, is acknowledged with 'Got it.', and the buttons go", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      yield* startSlack(fake)
      const question = yield* askIn(fake, "C111")
      fake.message("C111", "green", { user: "UANN" })
      yield* fake.waitFor("the answer's reply", () => fake.texts("C111").includes("you picked green"))
      yield* fake.waitFor("the acknowledgement", () => fake.texts("C111").includes("Got it."))
      yield* fake.waitFor("the buttons removed", () => updatesOf(fake, question).length === 1)
      const blocks = updatesOf(fake, question)[0]!.payload["blocks"] as Array<any>
      assert.notInclude(blocks.map((b) => b.type), "actions")
      assert.match(JSON.stringify(blocks), /✅ green/)
    }))

  it.live("a press on a question this process never asked (e.g. before a restart) says it is no longer open", () =>
    Effect.gen(function*() {
      const fake = yield* fakeSlack
      yield* startSlack(fake)
      const stale: WebCall = {
        method: "chat.postMessage",
        at: Date.now(),
        payload: {
          channel: "C111",
          text: "Old question",
          blocks: [{ type: "actions", block_id: "sb_q_0", elements: [{ type: "button", action_id: "sb_answer_0", value: "q-gone|0", text: { type: "plain_text", text: "yes" } }] }]
        },
        result: { ts: "1700000000.000050" }
      }
      fake.press(stale, 0, "UANN")
      yield* fake.waitFor("a notice", () => ephemeralsFor(fake, "UANN").length === 1)
      assert.deepStrictEqual(ephemeralsFor(fake, "UANN"), ["This question is no longer open."])
      yield* fake.waitFor("its buttons removed", () => fake.callsOf("chat.update").length === 1)
    }))
})
