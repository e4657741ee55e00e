// The fake Bot API answers overlapping getUpdates as Telegram does (the earlier one gets 409), so
// the cluster tests can assert one poller at a time by the fake's count of conflicts.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { CONFLICT_DESCRIPTION, fakeBotApi } from "../../support/fakeBotApi.ts"

const getUpdates = (url: string, token: string, timeout: number) =>
  Effect.promise(async () => {
    const res = await fetch(`${url}/bot${token}/getUpdates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ timeout })
    })
    return { status: res.status, body: (await res.json()) as Record<string, any> }
  })

describe("fake Bot API: one poller at a time", () => {
  it.live("a second getUpdates while one long-polls ends the first with 409 Conflict and is counted", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const first = yield* getUpdates(fake.url, fake.token, 5).pipe(Effect.forkChild)
      yield* fake.waitFor("the first poll", () => fake.callsOf("getUpdates").length === 1)
      const second = yield* getUpdates(fake.url, fake.token, 5).pipe(Effect.forkChild)
      const ended = yield* Fiber.join(first)
      assert.strictEqual(ended.status, 409)
      assert.deepStrictEqual(ended.body, { ok: false, error_code: 409, description: CONFLICT_DESCRIPTION })
      assert.strictEqual(fake.conflicts(), 1)
      assert.strictEqual(fake.maxPollsInFlight(), 2)
      fake.push({ message: { message_id: 1, date: 0, chat: { id: 1, type: "private" }, text: "hi" } })
      const answered = yield* Fiber.join(second)
      assert.strictEqual(answered.status, 200)
      assert.strictEqual(answered.body["result"].length, 1)
    }))

  it.live("polls one after another, and a poll whose client went away, are no conflict", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      yield* getUpdates(fake.url, fake.token, 0)
      yield* getUpdates(fake.url, fake.token, 0)
      const aborted = new AbortController()
      const gone = fetch(`${fake.url}/bot${fake.token}/getUpdates`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ timeout: 5 }),
        signal: aborted.signal
      }).catch(() => "aborted")
      yield* fake.waitFor("the long poll", () => fake.callsOf("getUpdates").length === 3)
      aborted.abort()
      yield* Effect.promise(() => gone)
      yield* fake.waitFor("the fake to see the abort", () => fake.pollsOpen() === 0)
      yield* getUpdates(fake.url, fake.token, 0)
      assert.strictEqual(fake.conflicts(), 0)
      assert.strictEqual(fake.maxPollsInFlight(), 1)
    }))
})
