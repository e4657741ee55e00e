// HeartbeatWake on the TestClock: coalescing, reason priority, preemption, retries that keep their
// reason and session key behind a floor, requests before the runner is ready, scoped ownership.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Scope } from "effect"
import { TestClock } from "effect/testing"
import { firstTickDelay, sameSlot } from "../../src/heartbeat/tickPolicy.ts"
import { mergeWake, reasonPriority, RELAY_RETRIES, relayRetryDelay } from "../../src/heartbeat/wakePolicy.ts"
import { HeartbeatWake, type Wake, type WakeOutcome } from "../../src/heartbeat/HeartbeatWake.ts"

const timing = { coalesce: Duration.millis(250), retryDelay: Duration.seconds(1) }

interface Seen extends Wake {
  readonly at: number
}

/** A wake service and a handler that records each wake with the time it ran. */
const setup = (outcome: (wake: Wake, n: number) => WakeOutcome = () => "Ran") =>
  Effect.gen(function*() {
    const wake = yield* HeartbeatWake.make(timing)
    const seen: Array<Seen> = []
    const handler = (w: Wake) =>
      Effect.flatMap(Effect.clockWith((c) => c.currentTimeMillis), (at) =>
        Effect.sync(() => {
          seen.push({ ...w, at })
          return outcome(w, seen.length)
        }))
    return { wake, seen, handler }
  })

describe("tick policy", () => {
  it("ticks once per slot, and a wall clock stepped back does not stop or postpone ticks", () => {
    assert.isFalse(sameSlot(1_000, undefined, 60_000))
    assert.isTrue(sameSlot(60_010, 60_000, 60_000), "a successor already ticked this slot")
    assert.isFalse(sameSlot(120_000, 60_000, 60_000))
    assert.isFalse(sameSlot(60_000 - 3_600_000, 60_000, 60_000), "clock set back an hour: still ticks")
    assert.strictEqual(firstTickDelay(90_000, 60_000, 60_000), 30_000)
    assert.strictEqual(firstTickDelay(200_000, 60_000, 60_000), 0)
    assert.strictEqual(firstTickDelay(60_000 - 3_600_000, 60_000, 60_000), 60_000, "not an hour and a minute")
  })
})

describe("wake policy", () => {
  it("retries a failed relay with a doubling delay, capped, and gives up after the last try", () => {
    const ms = (n: number, floor = Duration.seconds(1)) => {
      const d = relayRetryDelay(n, floor)
      return d === undefined ? undefined : Duration.toMillis(d)
    }
    assert.deepStrictEqual([1, 2, 3].map((n) => ms(n)), [10_000, 20_000, 40_000])
    assert.strictEqual(ms(1, Duration.seconds(30)), 30_000)
    assert.strictEqual(ms(RELAY_RETRIES), 600_000)
    assert.isUndefined(ms(RELAY_RETRIES + 1))
  })
  it("orders reasons retry < interval < other < action", () => {
    assert.isBelow(reasonPriority("retry"), reasonPriority("interval"))
    assert.isBelow(reasonPriority("interval"), reasonPriority("webhook"))
    for (const action of ["exec-event", "manual", "hook"]) assert.isBelow(reasonPriority("webhook"), reasonPriority(action))
  })

  it("merging keeps the higher reason, the earliest request and the latest floor", () => {
    const merged = mergeWake(
      { reason: "interval", sessionKey: "http:a", requestedAt: 5, notBefore: 900 },
      { reason: "exec-event", sessionKey: "http:a", requestedAt: 9, notBefore: 0 }
    )
    assert.deepStrictEqual(merged, { reason: "exec-event", sessionKey: "http:a", requestedAt: 5, notBefore: 900 })
  })
})

describe("HeartbeatWake", () => {
  it.effect("three wakes in one window make one run; exec-event beats interval", () =>
    Effect.gen(function*() {
      const { wake, seen, handler } = yield* setup()
      yield* wake.install(handler)
      yield* wake.request({ reason: "interval", sessionKey: "http:alice" })
      yield* TestClock.adjust("100 millis")
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("100 millis")
      yield* wake.request({ reason: "interval", sessionKey: "http:alice" })
      yield* TestClock.adjust("49 millis")
      assert.strictEqual(seen.length, 0, "nothing runs before the window closes")
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(seen, [{ reason: "exec-event", sessionKey: "http:alice", requestedAt: 0, at: 250 }])
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(seen.length, 1, "one run, not three")
      assert.strictEqual((yield* wake.stats).runs, 1)
    }))

  it.effect("wakes for different targets in one window run in the same batch, one run per target", () =>
    Effect.gen(function*() {
      const { wake, seen, handler } = yield* setup()
      yield* wake.install(handler)
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("100 millis")
      yield* wake.request({ reason: "hook", sessionKey: "http:bob" })
      yield* wake.request({ reason: "manual" })
      yield* TestClock.adjust("150 millis")
      assert.deepStrictEqual(seen.map((s) => [s.sessionKey, s.reason, s.at]), [
        ["http:alice", "exec-event", 250],
        ["http:bob", "hook", 250],
        [undefined, "manual", 250]
      ])
    }))

  it.effect("a sooner request preempts the pending timer; a later one does not delay it", () =>
    Effect.gen(function*() {
      const { wake, seen, handler } = yield* setup()
      yield* wake.install(handler)
      yield* wake.request({ reason: "interval", sessionKey: "http:alice", coalesce: "10 seconds" })
      yield* TestClock.adjust("1 second")
      yield* wake.request({ reason: "manual", sessionKey: "http:alice", coalesce: "0 millis" })
      yield* TestClock.adjust("0 millis")
      assert.deepStrictEqual(seen.map((s) => [s.reason, s.at]), [["manual", 1000]], "the sooner request preempted")

      yield* wake.request({ reason: "exec-event", sessionKey: "http:bob", coalesce: "200 millis" })
      yield* TestClock.adjust("100 millis")
      yield* wake.request({ reason: "exec-event", sessionKey: "http:bob", coalesce: "5 seconds" })
      yield* TestClock.adjust("100 millis")
      assert.deepStrictEqual(seen.map((s) => [s.sessionKey, s.at]), [["http:alice", 1000], ["http:bob", 1200]],
        "the later request did not push the earlier timer back")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(seen.length, 2)
    }))

  it.effect("a busy wake is retried with its reason and session key; a 0 ms request cannot shorten the retry", () =>
    Effect.gen(function*() {
      const { wake, seen, handler } = yield* setup((w, n) => (w.sessionKey === "http:alice" && n === 1 ? "Busy" : "Ran"))
      yield* wake.install(handler)
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      assert.deepStrictEqual(seen.map((s) => [s.sessionKey, s.reason, s.at]), [["http:alice", "exec-event", 250]])

      // Lower-priority and zero-window requests for the same key while the retry waits.
      yield* wake.request({ reason: "interval", sessionKey: "http:alice", coalesce: 0 })
      yield* wake.request({ reason: "retry", sessionKey: "http:alice", coalesce: 0 })
      // Another key is not held back by alice's floor.
      yield* wake.request({ reason: "hook", sessionKey: "http:bob", coalesce: 0 })
      yield* TestClock.adjust("0 millis")
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(seen.slice(1).map((s) => [s.sessionKey, s.at]), [["http:bob", 250]])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(seen.slice(2).map((s) => [s.sessionKey, s.reason, s.at]), [["http:alice", "exec-event", 1250]],
        "retried at its floor, keeping reason and key")
      assert.strictEqual((yield* wake.stats).retries, 1)
    }))

  it.effect("a failing handler counts as busy: the wake is retried, not lost", () =>
    Effect.gen(function*() {
      const wake = yield* HeartbeatWake.make(timing)
      const seen: Array<Wake> = []
      yield* wake.install((w) => {
        seen.push(w)
        return seen.length === 1 ? Effect.die(new Error("boom")) : Effect.succeed("Ran" as const)
      })
      yield* wake.request({ reason: "hook", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(seen.map((w) => [w.reason, w.sessionKey]), [["hook", "http:alice"], ["hook", "http:alice"]])
    }))

  it.effect("requests made before the runner is ready are kept and run once it is", () =>
    Effect.gen(function*() {
      const { wake, seen, handler } = yield* setup()
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* wake.request({ reason: "hook", sessionKey: "http:bob" })
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(seen.length, 0)
      yield* wake.install(handler)
      yield* TestClock.adjust("0 millis")
      assert.deepStrictEqual(seen.map((s) => [s.sessionKey, s.reason]), [["http:alice", "exec-event"], ["http:bob", "hook"]])
    }))

  it.effect("a stale owner's finalizer leaves the newer handler installed; closing is idempotent", () =>
    Effect.gen(function*() {
      const wake = yield* HeartbeatWake.make(timing)
      const byOwner: Array<string> = []
      const scopeA = yield* Scope.make()
      const scopeB = yield* Scope.make()
      yield* wake.install(() => Effect.sync(() => (byOwner.push("A"), "Ran" as const))).pipe(Scope.provide(scopeA))
      yield* wake.install(() => Effect.sync(() => (byOwner.push("B"), "Ran" as const))).pipe(Scope.provide(scopeB))
      yield* Scope.close(scopeA, Exit.void) // late, after B took over
      yield* Scope.close(scopeA, Exit.void)
      assert.isTrue((yield* wake.stats).handlerInstalled)
      yield* wake.request({ reason: "manual", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      assert.deepStrictEqual(byOwner, ["B"])
      yield* Scope.close(scopeB, Exit.void)
      yield* Scope.close(scopeB, Exit.void)
      assert.isFalse((yield* wake.stats).handlerInstalled)
    }))

  it.effect("two runs never overlap", () =>
    Effect.gen(function*() {
      const wake = yield* HeartbeatWake.make(timing)
      const gate = yield* Deferred.make<void>()
      const state = { running: 0, maxRunning: 0, runs: 0 }
      yield* wake.install((w) =>
        Effect.gen(function*() {
          state.running++
          state.maxRunning = Math.max(state.maxRunning, state.running)
          state.runs++
          if (w.sessionKey === "http:slow") yield* Deferred.await(gate)
          state.running--
          return "Ran" as const
        })
      )
      yield* wake.request({ reason: "manual", sessionKey: "http:slow" })
      yield* TestClock.adjust("250 millis")
      yield* wake.request({ reason: "manual", sessionKey: "http:fast", coalesce: 0 })
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(state.runs, 1, "the second run waits for the first")
      yield* Deferred.succeed(gate, undefined)
      yield* TestClock.adjust("0 millis")
      assert.deepStrictEqual(state, { running: 0, maxRunning: 1, runs: 2 })
    }))
})
