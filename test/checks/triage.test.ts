// Pushed checks, triage actions, the storm limit, quiet hours and the digest, on the daemon's own
// graph with the TestClock: what reaches the person's chat (the HTTP inbox), what reaches the
// model (the scripted session), and what waits for the digest.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import { Checks } from "../../src/checks/Checks.ts"
import { Digest } from "../../src/checks/Digest.ts"
import { Triage } from "../../src/checks/Triage.ts"
import { chunkHtml } from "../../src/channels/telegram/chunk.ts"
import { renderMarkdown } from "../../src/channels/telegram/render.ts"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { telegram as telegramChannel } from "../../src/channels/telegram/definition.ts"
import { Channels } from "../../src/core/Channels.ts"
import { Router } from "../../src/core/Router.ts"
import { TurnFailed } from "../../src/domain/errors.ts"
import { checksHarness } from "../support/checksHarness.ts"
import { until } from "../support/harness.ts"
import { recordingTracer } from "../support/recordingTracer.ts"

const MIN = 60_000
const inbox = (source: string) => Effect.map(Inbox.use((i) => i.read(source, 0, 0)), (p) => p.messages.map((m) => [m.kind, m.text] as const))
/** Let the dispatcher and the Router catch up (no time passes). */
const settle = Effect.gen(function*() {
  for (let i = 0; i < 200; i++) yield* Effect.yieldNow
})
const prompted = (h: { prompts: ReadonlyArray<unknown> }, n: number) => until(Effect.sync(() => h.prompts.length >= n), `${n} prompts`)
const pushed = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: "push", expectEvery: "1 hour", failAfter: 1, ...extra })

describe("pushed checks", () => {
  it.effect("a pushed check that goes silent is failing after 2 × expectEvery, and ok again when it reports", () => {
    const h = checksHarness({ file: { checks: [pushed("backup", { expectEvery: "10 minutes" })] } })
    return h.run(Effect.gen(function*() {
      const checks = yield* Checks
      for (const _ of [0, 1, 2]) {
        yield* checks.report("backup", { status: "ok", detail: "done" })
        yield* TestClock.adjust(5 * MIN)
      }
      // Last result at 10 min: silent until 30 min is still fine.
      yield* TestClock.adjust(20 * MIN - 5 * MIN - 1)
      assert.strictEqual((yield* checks.list)[0]!.state, "ok")
      assert.strictEqual(h.prompts.length, 0)
      yield* TestClock.adjust(1)
      assert.strictEqual((yield* checks.list)[0]!.state, "failing")
      yield* prompted(h, 1)
      assert.include(h.prompts[0]!.request.text, "no result from backup for 20 min (expected every 10 min)")
      yield* TestClock.adjust(30 * MIN) // still silent: no second alert
      yield* settle
      assert.strictEqual(h.prompts.length, 1)
      yield* checks.report("backup", { status: "ok", detail: "done" })
      yield* prompted(h, 2)
      assert.include(h.prompts[1]!.request.text, "backup ok again after 30 min")
    }))
  })

  it.effect("a result for a check that is not declared, or not pushed, is refused", () => {
    const h = checksHarness({ file: { checks: [{ name: "web", kind: "http", url: "http://x/" }] } })
    return h.run(Effect.gen(function*() {
      const checks = yield* Checks
      const unknown = yield* Effect.flip(checks.report("nope", { status: "fail" }))
      assert.include(unknown.message, "no such check")
      const own = yield* Effect.flip(checks.report("web", { status: "fail" }))
      assert.include(own.message, "not kind \"push\"")
    }))
  })
})

describe("triage", () => {
  it.effect("each action: immediate prompts the agent, notify goes to the chat without it, digest waits, suppress only counts", () => {
    const h = checksHarness({
      file: {
        checks: [pushed("i1"), pushed("n1", { severity: "critical" }), pushed("d1"), pushed("s1"), pushed("x1", { severity: "info" })],
        triage: [
          { severity: "critical", action: "notify" },
          { name: "d*", action: "digest" },
          { name: "s1", action: "suppress" },
          { name: "s*", action: "immediate" } // never reached for s1: the first match wins
        ]
      }
    })
    return h.run(Effect.gen(function*() {
      const checks = yield* Checks
      for (const name of ["i1", "n1", "d1", "s1", "x1"]) yield* checks.report(name, { status: "fail", detail: `${name} broke` })
      yield* prompted(h, 1)
      yield* settle
      assert.deepStrictEqual(h.prompts.map((p) => p.request.priority), ["event"])
      assert.include(h.prompts[0]!.request.text, "i1 is failing: i1 broke")
      assert.include(h.prompts[0]!.request.text, "automated, not a message from the person")
      const messages = yield* inbox("http:me")
      assert.deepStrictEqual(messages.filter(([kind]) => kind === "notify").map(([, t]) => t), ["🔴 n1 is failing: n1 broke (1 failed run since 00:00) [check:n1]"])
      const stats = yield* (yield* Triage).stats
      assert.deepStrictEqual(stats.byAction, { immediate: 1, notify: 1, digest: 2, suppress: 1 })
      const [report] = yield* (yield* Digest).flush
      assert.strictEqual(report!.items, 2) // d1 by its rule, x1 (info) by the defaults
      const digest = (yield* inbox("http:me")).at(-1)![1]
      assert.include(digest, "check d1 (warning)")
      assert.include(digest, "check x1 (info)")
      assert.notInclude(digest, "s1")
      // A recovery is reported the way its failure was.
      for (const name of ["i1", "n1", "d1", "s1"]) yield* checks.report(name, { status: "ok" })
      yield* prompted(h, 2)
      yield* settle
      assert.strictEqual(h.prompts.length, 2)
      assert.include(h.prompts[1]!.request.text, "i1 ok again after 0 s")
      assert.deepStrictEqual((yield* inbox("http:me")).filter(([k]) => k === "notify").at(-1), ["notify", "✅ n1 ok again after 0 s: ok [check:n1]"])
      assert.deepStrictEqual((yield* (yield* Triage).stats).byAction, { immediate: 2, notify: 2, digest: 3, suppress: 2 })
    }))
  })

  it.effect("an alert storm: at most K interruptions per window per chat, the rest in the digest with a count", () => {
    const names = Array.from({ length: 8 }, (_, i) => `svc-${i}`)
    const h = checksHarness({ file: { checks: names.map((n) => pushed(n)) }, checks: { stormLimit: 3, stormWindow: Duration.minutes(10) } })
    return h.run(Effect.gen(function*() {
      const checks = yield* Checks
      for (const name of names) yield* checks.report(name, { status: "fail", detail: "down" })
      yield* prompted(h, 3)
      yield* settle
      assert.strictEqual(h.prompts.length, 3)
      assert.strictEqual((yield* (yield* Triage).stats).stormed, 5)
      yield* (yield* Digest).flush
      const digest = (yield* inbox("http:me")).at(-1)![1]
      assert.include(digest, "Digest: 5 items in 5 groups")
      assert.strictEqual(digest.split("1 over the alert limit").length - 1, 5)
      // Once the window has passed, alerts get through again; recoveries of alerted failures always do.
      yield* TestClock.adjust(10 * MIN)
      for (const name of names) yield* checks.report(name, { status: "ok" })
      yield* prompted(h, 6)
      yield* settle
      assert.strictEqual(h.prompts.length, 6)
    }))
  })

  it.effect("an immediate alert whose turn fails still reaches the chat, as a notification", () => {
    const h = checksHarness({
      file: { checks: [pushed("db")] },
      reply: () => Effect.fail(new TurnFailed({ reason: "model down", userMessage: "The model is unavailable." }))
    })
    return h.run(Effect.gen(function*() {
      yield* (yield* Checks).report("db", { status: "fail", detail: "connection refused" })
      yield* until(Effect.map(inbox("http:me"), (m) => m.length >= 2), "two messages")
      const messages = yield* inbox("http:me")
      assert.deepStrictEqual(messages.map(([k]) => k), ["error", "notify"])
      assert.include(messages[1]![1], "db is failing: connection refused")
    }))
  })
})

describe("quiet hours and the digest", () => {
  it.effect("during quiet hours all but critical waits for the digest, which waits for their end; the tripwire keeps ticking", () => {
    // The TestClock starts at 1970-01-01 00:00 UTC: inside 23:00-07:00.
    const h = checksHarness({
      file: { checks: [pushed("web"), pushed("db", { severity: "critical" })] },
      checks: { quietHours: Option.some("23:00-07:00"), digestEvery: Duration.hours(1) },
      patch: (s) => ({ ...s, heartbeat: { ...s.heartbeat, every: Duration.minutes(15) } })
    })
    return h.run(Effect.gen(function*() {
      const checks = yield* Checks
      yield* checks.report("web", { status: "fail", detail: "HTTP 502" })
      yield* checks.report("db", { status: "fail", detail: "down" })
      yield* prompted(h, 1)
      yield* settle
      assert.deepStrictEqual(h.prompts.map((p) => /from check:(\S+):/.exec(p.request.text)?.[1]), ["db"])
      yield* TestClock.adjust(7 * 60 * MIN - 1)
      assert.deepStrictEqual((yield* inbox("http:me")).filter(([, t]) => t.startsWith("Digest")), [])
      yield* TestClock.adjust(1)
      const digests = (yield* inbox("http:me")).filter(([, t]) => t.startsWith("Digest"))
      assert.strictEqual(digests.length, 1)
      assert.include(digests[0]![1], "check web (warning): 1×, 00:00 — 1 in quiet hours")
      assert.strictEqual(h.ticks.length, 7 * 4 + 1)
      // After the quiet hours, alerts interrupt again.
      yield* checks.report("web", { status: "ok" })
      yield* checks.report("web", { status: "fail", detail: "HTTP 502" })
      yield* prompted(h, 2)
    }))
  })

  it.effect("one message per target, nothing when empty, parts within 4096 for Telegram", () => {
    const names = Array.from({ length: 60 }, (_, i) => `svc_${i}`)
    const h = checksHarness({
      file: {
        checks: [...names.map((n) => pushed(n, { target: "telegram:42", severity: "info" })), pushed("ops", { target: "http:ops", severity: "info" }), pushed("me", { severity: "info" })]
      }
    })
    return h.run(Effect.gen(function*() {
      const router = yield* Router
      const telegram: Array<string> = []
      yield* router.register({ channel: "telegram", send: (_t, m) => Effect.sync(() => void telegram.push(m.text)) })
      yield* (yield* Channels).add("telegram", telegramChannel.traits) // its traits: Markdown, 4096 characters
      const checks = yield* Checks
      const digest = yield* Digest
      for (let round = 0; round < 3; round++) {
        for (const n of [...names, "ops", "me"]) {
          yield* checks.report(n, { status: "fail", detail: `${n} <broken> & ${"x".repeat(80)}` })
          yield* checks.report(n, { status: "ok", detail: "fine" })
        }
      }
      yield* settle
      assert.strictEqual(h.prompts.length, 0)
      const reports = yield* digest.flush
      assert.deepStrictEqual(reports.map((r) => [r.target, r.outcome]).sort(), [["http:me", "delivered"], ["http:ops", "delivered"], ["telegram:42", "delivered"]])
      assert.strictEqual((yield* inbox("http:me")).length, 1)
      assert.strictEqual((yield* inbox("http:ops")).length, 1)
      assert.include((yield* inbox("http:ops"))[0]![1], "Digest: 6 items in 1 group")
      assert.isAbove(telegram.length, 1)
      for (const part of telegram) assert.strictEqual(chunkHtml(renderMarkdown(part)).length, 1)
      const shown = telegram.map(renderMarkdown).join("\n")
      for (const n of names) assert.include(shown, `check ${n} (info): 6×`)
      // Nothing waits now: the next digest sends nothing.
      assert.deepStrictEqual(yield* digest.flush, [])
      assert.strictEqual((yield* inbox("http:me")).length, 1)
    }))
  })
})

describe("tracing", () => {
  it.effect("every check run is a root span of its own, never inside the trace that was current when checks started", () => {
    const tracer = recordingTracer()
    const h = checksHarness({ file: { checks: [{ name: "web", kind: "http", url: "http://x/", every: "1 minute" }] } })
    return h.run(Effect.gen(function*() {
      yield* TestClock.adjust(5 * MIN)
    })).pipe(Effect.withSpan("a request"), Effect.provide(tracer.layer), Effect.andThen(Effect.sync(() => {
      const runs = tracer.spans.filter((s) => s.name === "check.run")
      assert.isAtLeast(runs.length, 5)
      for (const span of runs) {
        assert.isTrue(Option.isNone(span.parent), "a check run hangs off another trace")
        assert.strictEqual(span.attributes.get("switchboard.check"), "web")
        assert.strictEqual(span.attributes.get("switchboard.check.outcome"), "ok")
      }
    })))
  })
})
