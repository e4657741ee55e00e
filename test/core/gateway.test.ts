// The core graph over real HTTP with a scripted Session: serial turns, routing under interleaving,
// stop, timeouts, implicit cross-source sends.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Metric, Ref } from "effect"
import { TestClock } from "effect/testing"
import { TurnFailed } from "../../src/domain/errors.ts"
import { sourceMismatches } from "../../src/domain/metrics.ts"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Router } from "../../src/core/Router.ts"
import { Channels } from "../../src/core/Channels.ts"
import { Status } from "../../src/core/Status.ts"
import { baseUrl, gateway, gatewayWithHttp, scriptedSession } from "../support/harness.ts"
import { recordingTracer } from "../support/recordingTracer.ts"

const post = (base: string, body: unknown) =>
  Effect.promise(() =>
    fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body)
    }).then(async (r) => ({ status: r.status, body: await r.json() as any }))
  )

const getJson = (base: string, path: string) =>
  Effect.promise(() => fetch(`${base}${path}`).then(async (r) => ({ status: r.status, body: await r.json() as any })))

describe("serial session", () => {
  it.live("50 concurrent HTTP messages: one turn at a time, all answered, each with its own reply", () =>
    Effect.gen(function*() {
      const { layer, probe } = yield* scriptedSession((request) =>
        Effect.sleep("3 millis").pipe(Effect.as(`reply to ${request.text}`))
      )
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const ids = Array.from({ length: 50 }, (_, i) => `m-${i}`)
        const accepted = yield* Effect.forEach(ids, (id) => post(base, { id, text: `text ${id}`, source: `http:u${id}` }), {
          concurrency: "unbounded"
        })
        // Nobody is refused with "busy": every message is accepted while turns are running.
        assert.deepStrictEqual(accepted.map((a) => a.status), ids.map(() => 202))
        // The id to poll is the one in the answer (the key scoped by the client's source).
        const results = yield* Effect.forEach(accepted, (a) => getJson(base, `/v1/messages/${a.body.id}?wait=20`), {
          concurrency: "unbounded"
        })
        for (const [i, r] of results.entries()) {
          assert.strictEqual(r.body.status, "done")
          assert.strictEqual(r.body.reply, `reply to text m-${i}`)
        }
        assert.strictEqual(yield* Ref.get(probe.maxInFlight), 1)
        assert.strictEqual((yield* Ref.get(probe.prompts)).length, 50)
        // Each reply went to its own source's inbox.
        const inbox = yield* getJson(base, `/v1/inbox/http:um-7`)
        assert.deepStrictEqual(inbox.body.messages.map((m: any) => m.text), ["reply to text m-7"])
      }).pipe(Effect.provide(gatewayWithHttp(layer)))
    }))
})

describe("replies and tool calls go where the request came from", () => {
  it.live("a notify mid-turn from http:a lands in a's inbox only, while b and cli:local get their own replies", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const aStarted = yield* Deferred.make<void>()
      const { layer, probe } = yield* scriptedSession((request, tools) =>
        Effect.gen(function*() {
          if (request.source !== "http:a") return `reply for ${request.source}`
          yield* Deferred.succeed(aStarted, undefined)
          yield* Deferred.await(release) // b and cli arrive while a's turn runs
          yield* tools.notify({ text: "progress for a" }).pipe(Effect.orDie)
          return "final for a"
        })
      )
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        yield* post(base, { id: "a1", text: "slow job", source: "http:a" })
        yield* Deferred.await(aStarted)
        yield* post(base, { id: "b1", text: "hi", source: "http:b" })
        yield* post(base, { id: "c1", text: "hey", source: "cli:local" })
        yield* Deferred.succeed(release, undefined)
        for (const id of ["http:a~a1", "http:b~b1", "cli:local~c1"]) yield* getJson(base, `/v1/messages/${id}?wait=10`)
        const inboxOf = (s: string) =>
          Effect.map(getJson(base, `/v1/inbox/${s}`), (r) => r.body.messages.map((m: any) => [m.kind, m.text, m.requestId]))
        assert.deepStrictEqual(yield* inboxOf("http:a"), [
          ["notify", "progress for a", "http:a~a1"],
          ["reply", "final for a", "http:a~a1"]
        ])
        assert.deepStrictEqual(yield* inboxOf("http:b"), [["reply", "reply for http:b", "http:b~b1"]])
        assert.deepStrictEqual(yield* inboxOf("cli:local"), [["reply", "reply for cli:local", "cli:local~c1"]])
        assert.strictEqual(yield* Ref.get(probe.maxInFlight), 1)
      }).pipe(Effect.provide(gatewayWithHttp(layer)))
    }))

  it.effect("an implicit send to another source during a turn is refused and recorded as a span event", () =>
    Effect.gen(function*() {
      const tracer = recordingTracer()
      const mismatchesBefore = (yield* Metric.value(sourceMismatches)).count
      const outcome = yield* Deferred.make<string>()
      const { layer } = yield* scriptedSession((request, _tools, router) =>
        Effect.gen(function*() {
          const implicit = yield* router.deliver("http:b", { kind: "notify", text: "oops" }).pipe(
            Effect.match({ onFailure: (e) => e._tag, onSuccess: () => "delivered" })
          )
          const explicit = yield* router.deliver("http:b", { kind: "notify", text: "on purpose" }, { explicit: true }).pipe(
            Effect.as("delivered"),
            Effect.orElseSucceed(() => "refused")
          )
          yield* Deferred.succeed(outcome, `${implicit}/${explicit}`)
          return `done ${request.id}`
        })
      )
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        yield* intake.submit({ id: "x1", source: "http:a", text: "go" })
        assert.strictEqual(yield* Deferred.await(outcome), "SourceMismatch/delivered")
        const inbox = yield* Inbox
        assert.deepStrictEqual((yield* inbox.read("http:b", 0, 0)).messages.map((m) => m.text), ["on purpose"])
        const mismatch = tracer.spans.flatMap((s) => s.events.filter((e) => e[0] === "routing.source_mismatch"))
        assert.strictEqual(mismatch.length, 1)
        assert.deepStrictEqual(mismatch[0]![2], { target: "http:b", source: "http:a" })
        assert.strictEqual((yield* Metric.value(sourceMismatches)).count - mismatchesBefore, 1)
      }).pipe(Effect.provide(gateway(layer)), Effect.provide(tracer.layer))
    }))
})

describe("stopping and limiting turns", () => {
  it.effect("/stop aborts the running turn of its own source only; the sender hears 'Stopped.'", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const { layer } = yield* scriptedSession(() =>
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.never))
      )
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        const inbox = yield* Inbox
        yield* intake.submit({ id: "long", source: "http:a", text: "long job" })
        yield* Deferred.await(started)
        const other = yield* intake.submit({ id: "stop-b", source: "http:b", text: "/stop" })
        assert.deepStrictEqual(other, { _tag: "Answered", id: "stop-b", reply: "Nothing is running for this chat." })
        const own = yield* intake.submit({ id: "stop-a", source: "http:a", text: "/stop" })
        assert.strictEqual(own._tag, "Answered")
        const record = yield* (yield* RequestLog).await("long", 1000)
        assert.strictEqual(record?.status, "failed")
        assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages.map((m) => m.text), ["Stopped."])
      }).pipe(Effect.provide(gateway(layer)))
    }))

  it.effect("a turn past the limit is aborted and the sender is told; the next request runs", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((request) =>
        request.text === "slow" ? Effect.never : Effect.succeed(`ok ${request.text}`)
      )
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        const inbox = yield* Inbox
        yield* intake.submit({ id: "s", source: "http:a", text: "slow" })
        yield* intake.submit({ id: "f", source: "http:a", text: "fast" })
        yield* TestClock.adjust("5 minutes")
        const log = yield* RequestLog
        assert.strictEqual((yield* log.await("f", 0))?.status, "done")
        assert.deepStrictEqual((yield* inbox.read("http:a", 0, 0)).messages.map((m) => m.text), [
          "That took longer than 5m and was stopped.",
          "ok fast"
        ])
      }).pipe(Effect.provide(gateway(layer)))
    }))

  it.effect("a failed turn answers its sender with the failure's message", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession(() =>
        Effect.fail(new TurnFailed({ reason: "model 500", userMessage: "The model is unavailable, I will retry." }))
      )
      yield* Effect.gen(function*() {
        yield* (yield* Intake).submit({ id: "x", source: "cli:local", text: "hi" })
        const record = yield* (yield* RequestLog).await("x", 1000)
        assert.strictEqual(record?.status, "failed")
        const page = yield* (yield* Inbox).read("cli:local", 0, 1000)
        assert.deepStrictEqual(page.messages.map((m) => [m.kind, m.text]), [["error", "The model is unavailable, I will retry."]])
      }).pipe(Effect.provide(gateway(layer)))
    }))
})

describe("status", () => {
  it.effect("each channel's life shows in /status; /status in a chat answers from gateway state", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession(() => Effect.succeed("never asked"))
      yield* Effect.gen(function*() {
        const status = yield* Status
        const router = yield* Router
        yield* router.register({ channel: "telegram", send: () => Effect.void })
        const life = yield* (yield* Channels).add("telegram", { renders: "Markdown", maxChars: 4096, buttons: true })
        yield* life.failing("getUpdates: 502 Bad Gateway")
        const snapshot = yield* status.snapshot
        const channels = snapshot["channels"] as Record<string, { state: string; lastError: string | null }>
        assert.deepStrictEqual(
          Object.fromEntries(Object.entries(channels).map(([name, c]) => [name, [c.state, c.lastError]])),
          { cli: ["up", null], http: ["up", null], telegram: ["failing", "getUpdates: 502 Bad Gateway"] }
        )
        const answered = yield* (yield* Intake).submit({ id: "s1", source: "telegram:1", text: "/status" })
        assert.strictEqual(answered._tag, "Answered")
        if (answered._tag === "Answered") {
          assert.match(answered.reply, /^queue\s+0 waiting/m)
          assert.match(answered.reply, /^channels\s+cli \(up\), http \(up\), telegram \(failing\)$/m)
        }
      }).pipe(Effect.provide(gateway(layer)))
    }))
})
