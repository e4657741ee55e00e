// 24 simulated hours with 20 checks on the daemon's own graph (TestClock, scripted session and
// probes): alerts only for real changes of state after damping and cooldown, no model turn but
// through an immediate triage, the tripwire never misses a tick, and a person's message waits only
// for the turn in progress — even with a check that hangs past its timeout and one that crashes.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { Checks } from "../../src/checks/Checks.ts"
import { Triage } from "../../src/checks/Triage.ts"
import { Intake } from "../../src/core/Intake.ts"
import { checksHarness, type Script } from "../support/checksHarness.ts"
import { until } from "../support/harness.ts"

const MIN = 60_000
const HOUR = 60 * MIN

/** Deterministic PRNG (mulberry32) for the moments people write. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const between = (t: number, from: number, to: number) => t >= from && t < to
/** Fails on every other 5-minute slot from `from` until `to`: a change of state at every run. */
const flapping = (t: number, from: number, to: number) => between(t, from, to) && Math.floor((t - from) / (5 * MIN)) % 2 === 0

const script: Script = (name, _probe, t) => {
  const result = (ok: boolean) => Effect.succeed({ ok, detail: ok ? "fine" : "down" })
  switch (name) {
    case "outage-a":
      return result(!between(t, 3 * HOUR, 4 * HOUR))
    case "outage-b":
      return result(!(between(t, 10 * HOUR, 10.5 * HOUR) || between(t, 10 * HOUR + 40 * MIN, 11 * HOUR)))
    case "flapper-1":
      return result(!flapping(t, 6 * HOUR, 8 * HOUR))
    case "flapper-2":
      return result(!flapping(t, 14 * HOUR, 15 * HOUR))
    case "hanging":
      return Effect.never
    case "crashing":
      return Effect.die(new Error("probe bug"))
    default:
      return result(true)
  }
}

const every5 = { every: "5 minutes" }
const file = {
  checks: [
    ...Array.from({ length: 12 }, (_, i) => ({ name: `steady-${i}`, kind: "tcp", host: "127.0.0.1", port: 1000 + i, every: "1 minute" })),
    { name: "slow-0", kind: "tcp", host: "127.0.0.1", port: 2000, every: "30 minutes" },
    { name: "slow-1", kind: "file-age", path: "/tmp/x", maxAge: "1 hour", every: "30 minutes" },
    { name: "outage-a", kind: "http", url: "http://a/", ...every5 },
    { name: "outage-b", kind: "http", url: "http://b/", ...every5, failAfter: 1, cooldown: "1 hour", flap: { flips: 10 } },
    { name: "flapper-1", kind: "http", url: "http://f1/", ...every5, failAfter: 1, cooldown: "0 seconds", flap: { flips: 3, window: "1 hour" } },
    { name: "flapper-2", kind: "http", url: "http://f2/", ...every5, failAfter: 1, cooldown: "0 seconds", flap: { flips: 3, window: "1 hour" } },
    { name: "hanging", kind: "command", argv: ["sleep", "1000"], ...every5, timeout: "10 seconds" },
    { name: "crashing", kind: "command", argv: ["false"], ...every5 }
  ]
}

/**
 * The alerts a person should get, counted by hand from the script:
 * - outage-a (failAfter 2): failing at its second failed run, ok again after the hour → 2
 * - outage-b: failing, ok again; the second outage 10 min later is within its 1 h cooldown → digest → 2
 * - flapper-1/2 (flap after 3 changes in 1 h): failing, ok again, failing, then "flapping" at the
 *   4th change; the changes after it go to the digest; "settled" an hour after the last change → 5 each
 * - hanging (times out) and crashing: failing once, never recovered → 1 each
 * - the 14 steady checks: none
 */
const EXPECTED: Record<string, number> = { "outage-a": 2, "outage-b": 2, "flapper-1": 5, "flapper-2": 5, hanging: 1, crashing: 1 }

describe("checks: a day of 20 checks", () => {
  it.effect("alerts equal the real changes of state; no check blocks the session, the tripwire or a person", () => {
    const h = checksHarness({
      file,
      script,
      checks: { stormLimit: 1000, concurrency: 4 },
      patch: (s) => ({ ...s, heartbeat: { ...s.heartbeat, every: Duration.minutes(15) } }),
      // An alert turn takes 2 minutes of model time; a person's turn 10 seconds.
      reply: (r) => Effect.as(Effect.sleep(r.priority === "event" ? "2 minutes" : "10 seconds"), "ok")
    })
    return h.run(Effect.gen(function*() {
      const intake = yield* Intake
      const random = seeded(12)
      const moments = Array.from({ length: 40 }, () => Math.floor(random() * 24 * HOUR)).sort((a, b) => a - b)
      let now = 0
      for (const [i, moment] of moments.entries()) {
        yield* TestClock.adjust(moment - now)
        now = moment
        yield* intake.submit({ id: `person-${i}`, source: "http:person", text: `hello ${i}` })
      }
      yield* TestClock.adjust(24 * HOUR - now)
      const day = 24 * HOUR

      // Alerts: one per real change, per check.
      const events = h.prompts.filter((p) => p.request.priority === "event")
      const perCheck: Record<string, number> = {}
      for (const p of events) {
        const name = /from check:(\S+):/.exec(p.request.text)?.[1] ?? "?"
        perCheck[name] = (perCheck[name] ?? 0) + 1
      }
      assert.deepStrictEqual(perCheck, EXPECTED)
      assert.include(events.find((p) => p.request.text.includes("check:hanging"))!.request.text, "no answer within 10 s")
      assert.include(events.find((p) => p.request.text.includes("check:crashing"))!.request.text, "the check crashed")

      // No model turn but through an immediate triage; no probe ever ran inside a turn.
      const stats = yield* (yield* Triage).stats
      assert.strictEqual(stats.byAction.immediate, events.length)
      assert.isTrue(events.every((p) => p.request.id.startsWith("alert-")))
      assert.deepStrictEqual(h.prompts.filter((p) => p.request.priority !== "event" && p.request.priority !== "human"), [])
      assert.deepStrictEqual(h.probesInTurns, [])
      assert.isAbove(stats.byAction.digest, 0) // the flaps and the repeat within the cooldown

      // The tripwire: at start, then every 15 minutes, no tick missed.
      assert.strictEqual(h.ticks.length, day / (15 * MIN) + 1)
      h.ticks.forEach((t, i) => assert.strictEqual(t, i * 15 * MIN))

      // Every person was answered, and waited at most for the turn that was running when they wrote.
      yield* TestClock.adjust("1 hour")
      const people = h.prompts.filter((p) => p.request.priority === "human")
      assert.strictEqual(people.length, moments.length)
      for (const p of people) {
        const before = h.prompts.filter((q) => q.at < p.at || (q.at === p.at && q !== p && h.prompts.indexOf(q) < h.prompts.indexOf(p)))
        const last = before.at(-1)
        assert.isTrue(last === undefined || last.at <= p.request.receivedAt, `${p.request.id} waited behind a turn that started after it arrived`)
        assert.isAtMost(p.at - p.request.receivedAt, 2 * MIN, `${p.request.id} waited longer than one alert turn`)
      }

      // The checks' own view agrees.
      const views = yield* (yield* Checks).list
      assert.strictEqual(views.length, 20)
      assert.deepStrictEqual(
        views.filter((v) => v.state !== "ok").map((v) => [v.name, v.state]).sort(),
        [["crashing", "failing"], ["hanging", "failing"]]
      )
      yield* until(Effect.succeed(true), "settle")
    }))
  }, 120_000)
})
