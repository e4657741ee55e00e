// The bus's reconnect loop on the TestClock: capped exponential backoff between failed sessions,
// a fresh start once a session got through, and one log line per change of state however many
// retries an outage takes.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Logger } from "effect"
import { TestClock } from "effect/testing"
import { RedisError } from "../../../src/channels/redis/connection.ts"
import { emptyStats } from "../../../src/channels/redis/stats.ts"
import { makeLifecycle, supervise } from "../../../src/channels/redis/supervisor.ts"

type Step = "fail" | "up-then-fail" | "stop"

const harness = (steps: ReadonlyArray<Step>, reconnectMaxMs: number) =>
  Effect.gen(function*() {
    const stats = emptyStats("me:1", "127.0.0.1:6379/0", new Date(0).toISOString())
    const lifecycle = makeLifecycle(stats, reconnectMaxMs)
    const attemptsAt: Array<number> = []
    let i = 0
    const session = Effect.gen(function*() {
      attemptsAt.push(yield* Clock.currentTimeMillis)
      const step = steps[i++] ?? "fail"
      if (step === "stop") return "stopped" as const
      if (step === "up-then-fail") yield* lifecycle.up
      return yield* new RedisError({ op: "connect", reason: "connect ECONNREFUSED 127.0.0.1:6379" })
    })
    const fiber = yield* supervise(session, lifecycle, stats, reconnectMaxMs).pipe(Effect.forkChild)
    return { stats, attemptsAt, fiber }
  })

const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.layer([Logger.make(({ message }) => void lines.push(String(Array.isArray(message) ? message[0] : message)))])
  return { lines, layer }
}

describe("redis bus supervisor", () => {
  it.effect("backs off 100 ms, doubling, up to the cap, and logs the outage once", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { attemptsAt, fiber, stats } = yield* harness(Array(12).fill("fail"), 1000)
      for (let t = 0; t < 40; t++) yield* TestClock.adjust(250)
      const gaps = attemptsAt.slice(1).map((t, n) => t - attemptsAt[n]!)
      assert.deepStrictEqual(gaps.slice(0, 6), [100, 200, 400, 800, 1000, 1000])
      assert.strictEqual(stats.state, "down")
      assert.match(stats.lastError ?? "", /ECONNREFUSED/)
      const busLines = logs.lines.filter((l) => l.startsWith("redis bus"))
      assert.strictEqual(busLines.length, 1, busLines.join("\n"))
      assert.match(busLines[0]!, /^redis bus: cannot reach Redis: .*ECONNREFUSED.*; reconnecting in the background \(backoff up to 1s\)/)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("after a session got through the backoff starts over; down and up again are one line each", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const { attemptsAt, fiber, stats } = yield* harness(["fail", "fail", "fail", "up-then-fail", "fail", "up-then-fail", "stop"], 10_000)
      for (let t = 0; t < 40; t++) yield* TestClock.adjust(100)
      const gaps = attemptsAt.slice(1).map((t, n) => t - attemptsAt[n]!)
      // fail 100, fail 200, fail 400 | up, then again from 100 | fail 200 | up, from 100 | stop
      assert.deepStrictEqual(gaps, [100, 200, 400, 100, 200, 100])
      yield* Fiber.join(fiber)
      assert.strictEqual(stats.state, "stopped")
      assert.strictEqual(stats.reconnects, 2)
      const busLines = logs.lines.filter((l) => l.startsWith("redis bus"))
      assert.deepStrictEqual(busLines.map((l) => l.replace(/:.*/, "")), Array(5).fill("redis bus"))
      assert.match(busLines[0]!, /cannot reach Redis/)
      assert.match(busLines[1]!, /connected again after 700ms/)
      assert.match(busLines[2]!, /lost Redis/)
      assert.match(busLines[3]!, /connected again after 300ms/)
      assert.match(busLines[4]!, /lost Redis/)
    }).pipe(Effect.provide(logs.layer))
  })

  it.effect("a session that dies (a bug) is logged with its cause and started again", () => {
    const logs = captureLogs()
    return Effect.gen(function*() {
      const stats = emptyStats("me:1", "h:1/0", new Date(0).toISOString())
      const lifecycle = makeLifecycle(stats, 1000)
      let runs = 0
      const session = Effect.suspend(() => (++runs === 1 ? Effect.die(new Error("boom")) : Effect.succeed("stopped" as const)))
      const fiber = yield* supervise(session, lifecycle, stats, 1000).pipe(Effect.forkChild)
      yield* TestClock.adjust(100)
      yield* Fiber.join(fiber)
      assert.strictEqual(runs, 2)
      assert.isTrue(logs.lines.some((l) => l.includes("the read loop died")))
    }).pipe(Effect.provide(logs.layer))
  })
})

