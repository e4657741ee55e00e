// Sessions in one daemon (issue 14), on the daemon's own services and the TestClock: each session
// (agent + conversation) runs one turn at a time, different sessions overlap, a relay runs in the
// session of its source, an unbound source is refused, and without an agents file there is the one
// shared session of old.
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import { CurrentSession } from "../../src/core/CurrentRequest.ts"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Status } from "../../src/core/Status.ts"
import { gateway, scriptedSession, tempStateDir, until } from "../support/harness.ts"

/** Turns that take a second of (test) time and say which session ran them; in-flight counted per session. */
const sessionProbe = Effect.gen(function*() {
  const running = new Map<string, number>()
  const maxPerSession = new Map<string, number>()
  const overall = { now: 0, max: 0 }
  const scripted = yield* scriptedSession((request) =>
    Effect.gen(function*() {
      const ref = yield* CurrentSession
      const key = ref?.key ?? "none"
      running.set(key, (running.get(key) ?? 0) + 1)
      maxPerSession.set(key, Math.max(maxPerSession.get(key) ?? 0, running.get(key)!))
      overall.max = Math.max(overall.max, ++overall.now)
      yield* Effect.sleep("1 second").pipe(
        Effect.ensuring(Effect.sync(() => {
          running.set(key, running.get(key)! - 1)
          overall.now--
        }))
      )
      return `${key} answers ${request.text}`
    })
  )
  return { ...scripted, maxPerSession, overall }
})

const agentsFile = (dir: string) => {
  const file = join(dir, "agents.json")
  writeFileSync(file, JSON.stringify({
    agents: [
      { name: "work", scope: "per-chat", bindings: ["http:*"] },
      { name: "home", scope: "shared", bindings: ["http:h1", "http:h2"] }
    ]
  }))
  return file
}

const withAgents = (file: string, dir: string) => (s: any) => ({
  ...s,
  stateDir: dir,
  agents: { ...s.agents, file: Option.some(file), maxConcurrentTurns: 4 }
})

const replyOf = (id: string) =>
  RequestLog.use((log) => Effect.map(log.get(id), (r) => r?.status === "done" ? r.reply : undefined))

describe("sessions in one daemon", () => {
  it.effect("interleaved chats: each answered in its own session; sessions overlap, each stays serial; a relay runs in its source's session", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const probe = yield* sessionProbe
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        const chats = ["http:w1", "http:h1", "http:w2", "http:h2", "http:w1", "http:h1"]
        for (const [i, source] of chats.entries()) yield* intake.submit({ id: `m${i}`, source, text: `m${i}` })
        yield* intake.submit({
          id: "relay-1",
          source: "http:w2",
          text: "events for http:w2",
          priority: "relay",
          relay: { sessionKey: "http:w2", eventIds: [] }
        })
        // w1, w2 and home start together; the second w1 message and h2 wait for their session.
        yield* until(Effect.sync(() => probe.overall.now === 3), "three sessions running")
        for (let i = 0; i < 4; i++) yield* TestClock.adjust("1 second")
        for (let i = 0; i < 7; i++) yield* until(Effect.map(replyOf(i < 6 ? `m${i}` : "relay-1"), (r) => r !== undefined), `reply ${i}`)

        assert.strictEqual(yield* replyOf("m0"), "work/http:w1 answers m0")
        assert.strictEqual(yield* replyOf("m1"), "home/shared answers m1")
        assert.strictEqual(yield* replyOf("m2"), "work/http:w2 answers m2")
        assert.strictEqual(yield* replyOf("m3"), "home/shared answers m3")
        assert.strictEqual(yield* replyOf("m4"), "work/http:w1 answers m4")
        assert.strictEqual(yield* replyOf("m5"), "home/shared answers m5")
        assert.strictEqual(yield* replyOf("relay-1"), "work/http:w2 answers events for http:w2")
        assert.isAbove(probe.overall.max, 1, "sessions never overlapped")
        for (const [key, max] of probe.maxPerSession) assert.strictEqual(max, 1, `${key} ran two turns at once`)

        const status = yield* (yield* Status).snapshot
        const sessions = status["sessions"] as ReadonlyArray<{ key: string; agent: string; scope: string; turns: number; queued: number }>
        assert.deepStrictEqual(
          sessions.map((s) => [s.key, s.scope, s.turns]).sort(),
          [["home/shared", "shared", 3], ["work/http:w1", "per-chat", 2], ["work/http:w2", "per-chat", 2]]
        )
      }).pipe(Effect.provide(gateway(probe.layer, withAgents(agentsFile(dir), dir))))
    }))

  it.effect("one slow session does not hold up the others beyond the concurrency bound", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const probe = yield* sessionProbe
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        // Three messages for w1 queued first, then one each for w2..w4: w1's backlog waits, the others run.
        for (const i of [1, 2, 3]) yield* intake.submit({ id: `w1-${i}`, source: "http:w1", text: `w1-${i}` })
        for (const n of [2, 3, 4]) yield* intake.submit({ id: `w${n}`, source: `http:w${n}`, text: `w${n}` })
        yield* until(Effect.sync(() => probe.overall.now === 4), "four sessions running")
        yield* TestClock.adjust("1 second")
        for (const n of [2, 3, 4]) yield* until(Effect.map(replyOf(`w${n}`), (r) => r !== undefined), `w${n} answered`)
        assert.isUndefined(yield* replyOf("w1-2"), "w1's second message ran beside its first")
        for (let i = 0; i < 2; i++) yield* TestClock.adjust("1 second")
        yield* until(Effect.map(replyOf("w1-3"), (r) => r !== undefined), "w1's backlog answered")
        assert.strictEqual(probe.maxPerSession.get("work/http:w1"), 1)
      }).pipe(Effect.provide(gateway(probe.layer, withAgents(agentsFile(dir), dir))))
    }))

  it.effect("a source no agent is bound to is refused, never queued", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const probe = yield* sessionProbe
      yield* Effect.gen(function*() {
        const refused = yield* (yield* Intake).submit({ id: "x", source: "tg:1", text: "hi" }).pipe(Effect.flip)
        assert.strictEqual(refused._tag, "Unbound")
        assert.strictEqual(refused.message, "no agent is bound to tg:1")
      }).pipe(Effect.provide(gateway(probe.layer, withAgents(agentsFile(dir), dir))))
    }))

  it.effect("without an agents file: one agent main, one shared conversation for every chat, one turn at a time", () =>
    Effect.gen(function*() {
      const probe = yield* sessionProbe
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        for (const [i, source] of ["http:a", "tg:1", "cli:local"].entries()) yield* intake.submit({ id: `d${i}`, source, text: `d${i}` })
        for (let i = 0; i < 3; i++) {
          yield* until(Effect.sync(() => probe.overall.now === 1), "a turn running")
          yield* TestClock.adjust("1 second")
        }
        for (let i = 0; i < 3; i++) yield* until(Effect.map(replyOf(`d${i}`), (r) => r !== undefined), `d${i} answered`)
        assert.strictEqual(yield* replyOf("d1"), "main/shared answers d1")
        assert.strictEqual(probe.overall.max, 1)
        const sessions = (yield* (yield* Status).snapshot)["sessions"] as ReadonlyArray<{ key: string }>
        assert.deepStrictEqual(sessions.map((s) => s.key), ["main/shared"])
      }).pipe(Effect.provide(gateway(probe.layer)))
    }))

  it.effect("at most SWITCHBOARD_MAX_SESSIONS stay open: the least recently used idle per-chat one is closed, and opens again", () =>
    Effect.gen(function*() {
      const dir = yield* tempStateDir
      const probe = yield* sessionProbe
      const file = agentsFile(dir)
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        const openKeys = Effect.map(
          Status.use((s) => s.snapshot),
          (doc) => (doc["sessions"] as ReadonlyArray<{ key: string; open: boolean }>).filter((s) => s.open).map((s) => s.key).sort()
        )
        for (const [i, source] of ["http:w1", "http:w2", "http:w3", "http:w1"].entries()) {
          yield* intake.submit({ id: `e${i}`, source, text: `e${i}` })
          yield* until(Effect.sync(() => probe.overall.now === 1), `e${i} running`)
          yield* TestClock.adjust("1 second")
          yield* until(Effect.map(replyOf(`e${i}`), (r) => r !== undefined), `e${i} answered`)
        }
        // home/shared is never closed; of the per-chat ones only the bound's worth stays open.
        assert.deepStrictEqual(yield* openKeys, ["home/shared", "work/http:w1", "work/http:w3"])
        assert.strictEqual(yield* replyOf("e3"), "work/http:w1 answers e3")
      }).pipe(Effect.provide(gateway(probe.layer, (s) => ({ ...withAgents(file, dir)(s), agents: { ...withAgents(file, dir)(s).agents, maxSessions: 3 } }))))
    }))
})
