// Router: one sender per channel, retries what a channel says is temporary (honouring its
// retry-after), gives up at once on permanent errors, reports unknown targets without crashing.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Metric, Ref, Scope } from "effect"
import { TestClock } from "effect/testing"
import { DeliveryFailed } from "../../src/domain/errors.ts"
import { deliveries } from "../../src/domain/metrics.ts"
import type { Outbound } from "../../src/domain/model.ts"
import { AgentTools } from "../../src/agent/AgentTools.ts"
import { outboxDelayMs, type OutboxPolicy, Router, type RetryPolicy } from "../../src/core/Router.ts"
import { Store } from "../../src/store/Store.ts"
import { Questions } from "../../src/core/Questions.ts"
import { withCurrentRequest } from "../../src/core/CurrentRequest.ts"
import { until } from "../support/harness.ts"

/** A Router on a fresh in-memory store that lives as long as the test. */
const makeRouter = (retry: RetryPolicy, policy?: OutboxPolicy) =>
  Effect.flatMap(Store.make({ path: ":memory:", durability: "process" }), (store) =>
    Router.make(retry, policy).pipe(Effect.provideService(Store, store)))

const message: Outbound = { kind: "notify", text: "hi" }

/** A sender that fails with the scripted errors first, then succeeds; records attempt times. */
const flakySender = (channel: string, failures: ReadonlyArray<DeliveryFailed>) =>
  Effect.gen(function*() {
    const attempts = yield* Ref.make<ReadonlyArray<number>>([])
    const sender = {
      channel,
      send: (_target: string, _message: Outbound) =>
        Effect.gen(function*() {
          const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const n = (yield* Ref.updateAndGet(attempts, (a) => [...a, now])).length
          const failure = failures[n - 1]
          if (failure !== undefined) return yield* failure
        })
    }
    return { sender, attempts }
  })

describe("Router", () => {
  it.effect("waits as long as the channel's retry-after asks, then delivers", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 4, baseDelayMs: 500 })
      const { sender, attempts } = yield* flakySender("telegram", [
        new DeliveryFailed({ target: "telegram:1", reason: "429", retryAfterMs: 7000, permanent: false })
      ])
      yield* router.register(sender)
      const fiber = yield* Effect.forkChild(router.deliver("telegram:1", message))
      yield* TestClock.adjust("6999 millis")
      assert.strictEqual((yield* Ref.get(attempts)).length, 1)
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* Ref.get(attempts), [0, 7000])
      assert.strictEqual((yield* router.stats).delivered, 1)
    }))

  it.effect("does not retry a permanent error (bot blocked, chat not found)", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 4, baseDelayMs: 500 })
      const { sender, attempts } = yield* flakySender("telegram", [
        new DeliveryFailed({ target: "telegram:1", reason: "403 blocked", permanent: true })
      ])
      yield* router.register(sender)
      const error = yield* router.deliver("telegram:1", message).pipe(Effect.flip)
      assert.strictEqual(error._tag, "DeliveryFailed")
      assert.strictEqual((yield* Ref.get(attempts)).length, 1)
      assert.strictEqual((yield* router.stats).failed, 1)
    }))

  it.effect("gives up after the configured attempts with backoff", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 3, baseDelayMs: 100 })
      const boom = new DeliveryFailed({ target: "telegram:1", reason: "502", permanent: false })
      const { sender, attempts } = yield* flakySender("telegram", [boom, boom, boom, boom])
      yield* router.register(sender)
      const fiber = yield* Effect.forkChild(Effect.flip(router.deliver("telegram:1", message)))
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Fiber.join(fiber))._tag, "DeliveryFailed")
      assert.deepStrictEqual(yield* Ref.get(attempts), [0, 100, 300])
    }))

  it.effect("an unknown target is an error in stats and metrics, and the router keeps working", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 })
      const { sender } = yield* flakySender("http", [])
      yield* router.register(sender)
      const unknown = yield* router.deliver("discord:42", message).pipe(Effect.flip)
      assert.strictEqual(unknown._tag, "UnknownTarget")
      const malformed = yield* router.deliver("not a target", message).pipe(Effect.flip)
      assert.strictEqual(malformed._tag, "UnknownTarget")
      yield* router.deliver("http:a", message)
      const stats = yield* router.stats
      assert.strictEqual(stats.unknownTargets, 2)
      assert.strictEqual(stats.delivered, 1)
      const counted = yield* Metric.value(Metric.withAttributes(deliveries, { channel: "discord", outcome: "unknown_target" }))
      assert.strictEqual(counted.count, 1)
    }))

  it.effect("a stale sender's scope closing late does not remove the newer sender of its channel", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 })
      const older = yield* flakySender("telegram", [])
      const newer = yield* flakySender("telegram", [])
      const olderScope = yield* Scope.make()
      yield* router.register(older.sender).pipe(Scope.provide(olderScope))
      yield* router.register(newer.sender) // a reload replaced the channel
      yield* Scope.close(olderScope, Exit.void) // the old owner finishes closing afterwards
      assert.deepStrictEqual((yield* router.stats).channels, ["telegram"])
      yield* router.deliver("telegram:1", message)
      assert.strictEqual((yield* Ref.get(newer.attempts)).length, 1)
      assert.strictEqual((yield* Ref.get(older.attempts)).length, 0)
    }))
})

describe("Router outbox", () => {
  const policy = { retryEvery: Duration.seconds(5), maxRetryEvery: Duration.minutes(5), maxAge: Duration.hours(24) }
  const down = new DeliveryFailed({ target: "telegram:1", reason: "502 Bad Gateway", permanent: false })

  /** A channel that is down until `up` is set, recording what it delivered. */
  const outage = Effect.gen(function*() {
    const state = { up: false, tries: 0 }
    const delivered = yield* Ref.make<ReadonlyArray<string>>([])
    const sender = {
      channel: "telegram",
      send: (target: string, m: Outbound) =>
        Effect.suspend(() => {
          state.tries++
          return state.up ? Ref.update(delivered, (d) => [...d, `${target} ${m.text}`]) : Effect.fail(down)
        })
    }
    return { state, delivered, sender }
  })

  it.effect("a message the channel cannot take is kept and delivered once it is back; later ones wait behind it, in order", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 2, baseDelayMs: 100 }, policy)
      const channel = yield* outage
      yield* router.register(channel.sender)
      const first = yield* Effect.forkChild(router.deliver("telegram:1", { kind: "reply", text: "one" }))
      yield* TestClock.adjust("1 second") // the Router's own retries are spent
      // No error for the caller: the message is kept, and the caller learns it is only queued.
      assert.strictEqual(yield* Fiber.join(first), "queued")
      const triesBefore = channel.state.tries
      assert.strictEqual(yield* router.deliver("telegram:1", { kind: "reply", text: "two" }), "queued")
      assert.strictEqual(channel.state.tries, triesBefore, "'two' jumped the queue")
      yield* router.deliver("telegram:2", { kind: "reply", text: "other chat" }).pipe(Effect.forkChild)
      let stats = yield* router.stats
      assert.strictEqual(stats.outbox.waiting, 2)

      yield* TestClock.adjust("5 seconds") // a round while still down: nothing lost, nothing sent
      assert.deepStrictEqual(yield* Ref.get(channel.delivered), [])
      channel.state.up = true
      yield* TestClock.adjust("10 seconds") // the next round (backoff doubled)
      const sent = yield* Ref.get(channel.delivered)
      assert.deepStrictEqual(sent.filter((d) => d.startsWith("telegram:1")), ["telegram:1 one", "telegram:1 two"])
      stats = yield* router.stats
      assert.strictEqual(stats.outbox.waiting, 0)
      assert.strictEqual(stats.outbox.gaveUp, 0)
    }))

  it.effect("a message still failing after a day is dropped and reported; a permanent refusal is not retried", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 }, policy)
      const channel = yield* outage
      yield* router.register(channel.sender)
      yield* router.deliver("telegram:1", { kind: "reply", text: "lost cause" })
      assert.strictEqual((yield* router.stats).outbox.waiting, 1)
      yield* TestClock.adjust("25 hours")
      const stats = yield* router.stats
      assert.strictEqual(stats.outbox.waiting, 0)
      assert.strictEqual(stats.outbox.gaveUp, 1)
      assert.strictEqual(stats.failed, 1)
    }))

  it.effect("kept messages handed back at start are delivered, except questions", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 }, policy)
      const channel = yield* outage
      channel.state.up = true
      yield* router.register(channel.sender)
      const now = yield* Effect.clockWith((c) => c.currentTimeMillis)
      yield* router.restoreOutbox([
        { target: "telegram:7", message: { kind: "relay", text: "kept" }, since: now, attempts: 3, lastError: "502" },
        // A question's turn did not survive the restart: nobody would wait for the answer.
        {
          target: "telegram:7",
          message: { kind: "ask", text: "Deploy?", question: { id: "q-1", options: ["yes", "no"] } },
          since: now,
          attempts: 1,
          lastError: "502"
        }
      ])
      yield* TestClock.adjust("5 seconds")
      assert.deepStrictEqual(yield* Ref.get(channel.delivered), ["telegram:7 kept"])
      assert.strictEqual(yield* router.deliver("telegram:7", { kind: "reply", text: "now" }), "delivered")
    }))

  it.effect("backoff is per chat: a chat whose channel stays down does not hold up another that failed once", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 }, policy)
      const state = { down: new Set(["telegram:1", "telegram:2"]) }
      const delivered = yield* Ref.make<ReadonlyArray<string>>([])
      yield* router.register({
        channel: "telegram",
        send: (target, m) =>
          state.down.has(target) ? Effect.fail(down) : Ref.update(delivered, (d) => [...d, `${target} ${m.text}`])
      })
      yield* router.deliver("telegram:1", { kind: "reply", text: "stuck" })
      yield* TestClock.adjust("1 hour") // chat 1 has backed off to every 5 minutes
      yield* router.deliver("telegram:2", { kind: "reply", text: "hiccup" })
      state.down.delete("telegram:2")
      yield* TestClock.adjust("6 seconds")
      assert.deepStrictEqual(yield* Ref.get(delivered), ["telegram:2 hiccup"])
      assert.strictEqual((yield* router.stats).outbox.waiting, 1)
    }))

  it.effect("a question that expired while waiting in the outbox is dropped, not sent late", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 }, policy)
      const channel = yield* outage
      yield* router.register(channel.sender)
      const question = { id: "q-1", options: ["yes", "no"] }
      yield* router.deliver("telegram:1", { kind: "ask", text: "Deploy?", question, expiresAt: 120_000 })
      yield* router.deliver("telegram:1", { kind: "reply", text: "no answer, so I did not deploy" })
      yield* TestClock.adjust("2 minutes")
      channel.state.up = true
      yield* TestClock.adjust("5 minutes")
      assert.deepStrictEqual(yield* Ref.get(channel.delivered), ["telegram:1 no answer, so I did not deploy"])
      assert.strictEqual((yield* router.stats).outbox.waiting, 0)
    }))

  it.effect("notify tells the model when its message is only queued, so it does not claim it was sent", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 }, policy)
      const channel = yield* outage
      yield* router.register(channel.sender)
      const tools = yield* AgentTools.pipe(Effect.provide(AgentTools.layer.pipe(Layer.provide(Layer.succeed(Router, router)))))
      const result = yield* tools.notify({ text: "deployed", target: "telegram:1" })
      assert.strictEqual(result.deliveredTo, "telegram:1")
      assert.match(result.note ?? "", /not delivered yet/)
    }))

  it("waits longer after each round without progress, up to a limit", () => {
    assert.deepStrictEqual([0, 1, 2, 10].map((n) => outboxDelayMs(policy, n)), [5_000, 10_000, 20_000, 300_000])
  })
})

describe("Router outbox and questions", () => {
  // An `ask` once left the outbox only when its SWITCHBOARD_ASK_TIMEOUT had passed, while the question
  // is forgotten as soon as its turn ends (/stop, a restart). When the channel came back, the chat got
  // buttons nobody waited for: a press gave the "stale question" toast, a typed answer was taken as a
  // new message.
  it.effect("a question whose turn was stopped while it waited in the outbox is not sent later", () =>
    Effect.gen(function*() {
      const policy = { retryEvery: Duration.seconds(5), maxRetryEvery: Duration.minutes(5), maxAge: Duration.hours(24) }
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 0 }, policy)
      const state = { up: false }
      const delivered = yield* Ref.make<ReadonlyArray<string>>([])
      yield* router.register({
        channel: "telegram",
        send: (target: string, m: Outbound) =>
          Effect.suspend(() =>
            state.up
              ? Ref.update(delivered, (d) => [...d, `${target} ${m.kind}`])
              : Effect.fail(new DeliveryFailed({ target, reason: "502 Bad Gateway", permanent: false }))
          )
      })
      const questions = yield* Questions.make({ timeout: "2 minutes" }).pipe(Effect.provideService(Router, router))
      const asking = yield* Effect.forkChild(questions.ask("telegram:1", "Deploy?", ["yes", "no"]))
      yield* until(Effect.map(router.stats, (s) => s.outbox.waiting === 1), "the question is kept in the outbox")
      yield* Fiber.interrupt(asking) // the person sent /stop: the turn and its question are gone
      assert.strictEqual(yield* questions.pendingFor("telegram:1"), undefined)
      state.up = true // Telegram is back, well within the ask timeout
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* Ref.get(delivered), [], "a question nobody waits for was sent")
    }))

  // The cross-source refusal once had one test only (the gateway's): this one is the Router's own.
  it.effect("an implicit delivery to another source than the current request's is refused and never sent", () =>
    Effect.gen(function*() {
      const router = yield* makeRouter({ attempts: 1, baseDelayMs: 1 })
      const sent: Array<string> = []
      yield* router.register({ channel: "http", send: (target) => Effect.sync(() => void sent.push(target)) })
      const request = { id: "r1", source: "http:a", text: "go", priority: "human" as const, receivedAt: 0 }
      const implicit = yield* router.deliver("http:b", message).pipe(withCurrentRequest(request), Effect.flip)
      assert.strictEqual(implicit._tag, "SourceMismatch")
      assert.deepStrictEqual(sent, [], "the refused message reached http:b")
      // Its own source, and another one named on purpose, are delivered.
      yield* router.deliver("http:a", message).pipe(withCurrentRequest(request))
      yield* router.deliver("http:b", message, { explicit: true }).pipe(withCurrentRequest(request))
      assert.deepStrictEqual(sent, ["http:a", "http:b"])
    }))
})
