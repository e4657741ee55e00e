// The bus's sender against the real Redis (DB 4): a message sent again with the same delivery id —
// the outbox re-sending after a crash between the XADD and its commit, a retry after a lost reply —
// appears once on switchboard:outbound; also after Redis lost its script cache; a question carries
// its id and options; while Redis is unreachable a send fails at once as a temporary failure.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit } from "effect"
import { openSender } from "../../../src/channels/redis/connection.ts"
import { makeSender } from "../../../src/channels/redis/sender.ts"
import { emptyStats } from "../../../src/channels/redis/stats.ts"
import { freePort } from "../../support/daemon.ts"
import { connectBus, redisUrl } from "../../support/redis.ts"

const DB = 4

const senderOn = (url: string) =>
  Effect.gen(function*() {
    const conn = yield* openSender(url, { name: "sender-test", stallMs: 2000, reconnectMaxMs: 200 })
    const stats = emptyStats("sender-test", "test", new Date(0).toISOString())
    return { conn, stats, ...makeSender({ conn, stats, maxLen: 1000, deliveryTtl: Duration.hours(1) }) }
  })

const bus = Effect.acquireRelease(Effect.promise(() => connectBus(redisUrl(DB))), (b) => Effect.promise(() => b.close()))

const whenReady = (conn: { readonly client: { readonly status: string } }) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && conn.client.status !== "ready"; i++) yield* Effect.sleep(10)
    if (conn.client.status !== "ready") return yield* Effect.die(new Error(`Redis never became ready (${conn.client.status})`))
  })

describe("redis bus sender", () => {
  it.live("the same delivery sent twice is written once, also after Redis dropped its scripts", () =>
    Effect.gen(function*() {
      const b = yield* bus
      const { conn, send, stats } = yield* senderOn(redisUrl(DB))
      yield* whenReady(conn)
      const reply = { kind: "reply", text: "echo: hi", requestId: "redis:x~1" } as const
      yield* send("redis:x", reply)
      yield* send("redis:x", reply)
      // A restarted Redis has an empty script cache: the script is loaded again by itself.
      yield* Effect.promise(() => b.redis.script("FLUSH"))
      yield* send("redis:x", reply)
      yield* send("redis:x", { kind: "notify", text: "one", requestId: "redis:x~1" })
      yield* send("redis:x", { kind: "notify", text: "two", requestId: "redis:x~1" })
      const out = yield* Effect.promise(() => b.outbound())
      assert.deepStrictEqual(out.map((e) => e.fields), [
        { target: "redis:x", requestId: "redis:x~1", kind: "reply", text: "echo: hi" },
        { target: "redis:x", requestId: "redis:x~1", kind: "notify", text: "one" },
        { target: "redis:x", requestId: "redis:x~1", kind: "notify", text: "two" }
      ])
      assert.deepStrictEqual(stats.outbound, { added: 3, duplicates: 2, failed: 0 })
      // The delivery id is remembered for the configured time, not for ever.
      const keys = yield* Effect.promise(() => b.redis.keys("switchboard:delivered:*"))
      assert.strictEqual(keys.length, 3)
      const ttl = yield* Effect.promise(() => b.redis.ttl(keys[0]!))
      assert.isTrue(ttl > 3500 && ttl <= 3600, `ttl ${ttl}`)
    }))

  it.live("a question carries its id and options; a message of no request is not deduplicated", () =>
    Effect.gen(function*() {
      const b = yield* bus
      const { conn, send } = yield* senderOn(redisUrl(DB))
      yield* whenReady(conn)
      yield* send("redis:q", { kind: "ask", text: "Deploy?\n1. yes\n2. no", requestId: "r", question: { id: "q-1", options: ["yes", "no"] } })
      yield* send("redis:q", { kind: "notify", text: "digest" })
      yield* send("redis:q", { kind: "notify", text: "digest" })
      const out = yield* Effect.promise(() => b.outbound())
      assert.deepStrictEqual(out[0]!.fields, {
        target: "redis:q",
        requestId: "r",
        kind: "ask",
        text: "Deploy?\n1. yes\n2. no",
        questionId: "q-1",
        options: "[\"yes\",\"no\"]"
      })
      assert.strictEqual(out.filter((e) => e.fields["text"] === "digest").length, 2)
    }))

  it.live("while Redis cannot be reached a send fails at once, as temporary (the Router keeps it in its outbox)", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() => freePort())
      const { send, stats } = yield* senderOn(`redis://127.0.0.1:${port}/0`)
      const exit = yield* send("redis:x", { kind: "reply", text: "hi", requestId: "r" }).pipe(Effect.exit)
      assert.isTrue(Exit.isFailure(exit))
      const failure = Exit.isFailure(exit) ? exit.cause.toString() : ""
      assert.match(failure, /DeliveryFailed/)
      assert.match(failure, /enableOfflineQueue|Connection is closed|isn't writeable/)
      assert.strictEqual(stats.outbound.failed, 1)
    }))
})
