// Background fibers under supervision: a fiber that dies is logged with its cause, started again
// with a capped backoff, and — for a channel — /health shows it as not receiving until it is up.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Fiber, Logger, Metric } from "effect"
import { TestClock } from "effect/testing"
import { Channels, PLAIN_TRAITS } from "../../src/core/Channels.ts"
import { judgeChannels } from "../../src/core/channelHealth.ts"
import { supervised } from "../../src/core/supervised.ts"
import { fiberRestarts } from "../../src/domain/metrics.ts"

const captureLogs = () => {
  const lines: Array<{ level: string; message: string; cause: string }> = []
  const layer = Logger.layer([
    Logger.make(({ cause, logLevel, message }) =>
      void lines.push({
        level: logLevel,
        message: String(Array.isArray(message) ? message[0] : message),
        cause: Cause.pretty(cause)
      })
    )
  ])
  return { lines, layer }
}

describe("supervised fibers", () => {
  it.effect("a fiber that dies is logged with its cause and started again after 1 s, 2 s, 4 s, … at most 30 s", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const startedAt: Array<number> = []
      const fiber = yield* Effect.gen(function*() {
        startedAt.push(yield* Clock.currentTimeMillis)
        return yield* Effect.die(new TypeError("Cannot read properties of undefined (reading 'split')"))
      }).pipe(supervised({ name: "poller" }), Effect.forkChild)
      for (let t = 0; t < 200; t++) yield* TestClock.adjust("1 second")
      const gaps = startedAt.slice(1).map((t, n) => t - startedAt[n]!)
      assert.deepStrictEqual(gaps.slice(0, 7), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000])
      const errors = logs.lines.filter((l) => l.level === "Error")
      assert.strictEqual(errors.length, startedAt.length)
      assert.match(errors[0]!.message, /^poller stopped: Cannot read properties of undefined \(reading 'split'\); starting it again in 1s$/)
      assert.include(errors[0]!.cause, "TypeError", "the log line carries the defect itself")
      const restarts = yield* Metric.value(Metric.withAttributes(fiberRestarts, { fiber: "poller" }))
      assert.strictEqual(restarts.count, startedAt.length - 1)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a fiber that ran a while before it failed starts its backoff over", () =>
    Effect.gen(function*() {
      const startedAt: Array<number> = []
      const runs = [0, 0, 0, 120_000, 0]
      const fiber = yield* Effect.gen(function*() {
        startedAt.push(yield* Clock.currentTimeMillis)
        yield* Effect.sleep(runs[startedAt.length - 1] ?? 0)
        return yield* Effect.fail("lost the connection")
      }).pipe(supervised({ name: "reader" }), Effect.forkChild)
      for (let t = 0; t < 200; t++) yield* TestClock.adjust("1 second")
      const gaps = startedAt.slice(1, 6).map((t, n) => t - startedAt[n]!)
      // 1 s, 2 s, 4 s; then a run of two minutes and a failure: 1 s again (after the run), then 2 s.
      assert.deepStrictEqual(gaps, [1000, 2000, 4000, 121_000, 2000])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Logger.layer([]))))

  it.effect("a channel whose receive loop keeps crashing is failing in /health (warn, then fail), and up once it runs", () =>
    Effect.gen(function*() {
      const channels = yield* Channels.make
      const life = yield* channels.add("pigeon", PLAIN_TRAITS)
      const health = Effect.gen(function*() {
        return judgeChannels(yield* channels.list, yield* Clock.currentTimeMillis)
      })
      let attempts = 0
      const fiber = yield* Effect.gen(function*() {
        attempts++
        if (attempts <= 6) return yield* Effect.die(new Error("bad answer from the pigeon API"))
        yield* life.up
        return yield* Effect.never
      }).pipe(supervised({ name: "pigeon receive", life }), Effect.forkChild)
      yield* TestClock.adjust("10 millis")
      const early = yield* health
      assert.strictEqual(early.status, "warn")
      assert.match(early.detail!, /pigeon not receiving .*pigeon receive crashed: bad answer from the pigeon API/)
      yield* TestClock.adjust("30 seconds")
      assert.strictEqual((yield* health).status, "fail", "a crash loop of 30 s still looked like a channel starting")
      for (let t = 0; t < 60; t++) yield* TestClock.adjust("1 second")
      assert.strictEqual(attempts, 7)
      assert.deepStrictEqual(yield* health, { status: "pass" })
      const [report] = yield* channels.list
      assert.strictEqual(report!.restarts, 6)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(Logger.layer([]))))

  it("/health: a channel starting warns, and fails once it has not come up in a minute", () => {
    const report = (state: "starting" | "failing" | "up", sinceMs: number) => ({
      name: "pigeon",
      traits: PLAIN_TRAITS,
      state,
      since: new Date(sinceMs).toISOString(),
      lastError: null,
      restarts: 0
    })
    assert.deepStrictEqual(judgeChannels([report("up", 0)], 1e9), { status: "pass" })
    assert.strictEqual(judgeChannels([report("starting", 0)], 59_000).status, "warn")
    assert.strictEqual(judgeChannels([report("starting", 0)], 60_000).status, "fail")
    assert.strictEqual(judgeChannels([report("failing", 0)], 29_000).status, "warn")
    assert.strictEqual(judgeChannels([report("failing", 0)], 30_000).status, "fail")
  })
})
