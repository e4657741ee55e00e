// Regression tests from the adversarial review of the core graph (queue, dispatcher, intake,
// router, inbox, request log, HTTP, config, shutdown) and the heartbeat. Each one failed against
// the code as reviewed; the comment above a test describes the bug it caught (in the past state of
// the code) and the test name says what a user observes now.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Layer, Option, Redacted, Scope } from "effect"
import { HttpServer } from "effect/http"
import { TestClock } from "effect/testing"
import { TurnFailed } from "../src/domain/errors.ts"
import type { Inbound } from "../src/domain/model.ts"
import { CoreRoutes } from "../src/channels/http/coreRoutes.ts"
import { HeartbeatRoutes } from "../src/channels/http/heartbeatRoutes.ts"
import { core } from "../src/layers/Core.ts"
import { serveHttp } from "../src/layers/HttpServer.ts"
import { Dispatcher } from "../src/core/Dispatcher.ts"
import { GatewayConfig } from "../src/config/GatewayConfig.ts"
import { HeartbeatRunner } from "../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../src/heartbeat/HeartbeatWake.ts"
import { Inbox } from "../src/channels/http/Inbox.ts"
import { Intake } from "../src/core/Intake.ts"
import { RequestLog } from "../src/core/RequestLog.ts"
import { Router } from "../src/core/Router.ts"
import { Session } from "../src/core/Session.ts"
import { SystemEvents } from "../src/heartbeat/SystemEvents.ts"
import { runDaemonToExit, startDaemon } from "./support/daemon.ts"
import { baseUrl, gateway, gatewayWithHttp, scriptedSession, until } from "./support/harness.ts"

const post = (base: string, body: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body)
    }).then(async (r) => ({ status: r.status, body: await r.json() as any }))
  )

const getJson = (base: string, path: string, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(`${base}${path}`, { headers }).then(async (r) => ({ status: r.status, text: await r.text() }))
  ).pipe(Effect.map((r) => ({ status: r.status, text: r.text, body: JSON.parse(r.text) as any })))

/** Wait (on whatever clock) until the request is done or failed. */
const settled = (id: string) => RequestLog.use((log) => log.await(id, 60_000))

describe("review: queue, intake and request log", () => {
  // CommandQueue.ts:83/96 (`seen` keyed by `request.id` alone), RequestLog.ts:47 (entries keyed by
  // id alone), coreRoutes.ts:61 (the client's idempotency key is used as the id as is). An
  // idempotency key is the client's own: two HTTP clients that number their messages 1, 2, 3… share
  // one namespace, so bob's message "1" is answered `duplicate: true` and never reaches the agent,
  // and GET /v1/messages/1 shows bob alice's reply. The same hole lets any HTTP client pre-empt a
  // Telegram message by posting id "telegram:<update_id>" (the pattern allows ':'), which then drops
  // the Telegram update as a duplicate.
  it.live("two HTTP clients that use the same idempotency key each get their own message answered", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      yield* post(base, { id: "1", text: "from alice", source: "http:alice" })
      yield* getJson(base, "/v1/messages/1?wait=5")
      const bob = yield* post(base, { id: "1", text: "from bob", source: "http:bob" })
      assert.notStrictEqual(bob.body.duplicate, true, "bob's message was dropped as a duplicate of alice's")
      const inbox = yield* getJson(base, "/v1/inbox/http:bob?wait=3")
      assert.deepStrictEqual(inbox.body.messages.map((m: any) => m.text), ["echo: from bob"])
    }).pipe(Effect.provide(gatewayWithHttp(Session.echo))))

  // Inbox.ts:41-50 + 86-92: `read` creates (and keeps) a box for any source it is asked about,
  // and only `append` evicts. Polling many distinct inbox names (a buggy client, a scanner, or just
  // many CLI users over time) grows memory without bound between appends, and the next append then
  // evicts the longest-quiet boxes first — which are the real ones with unread messages, because the
  // empty boxes made by reads are newer. alice's unread reply vanishes.
  it.effect("polling many unknown inbox names does not make a user's unread reply disappear", () =>
    Effect.gen(function*() {
      const intake = yield* Intake
      const inbox = yield* Inbox
      yield* intake.submit({ id: "a1", source: "http:alice", text: "hi" })
      yield* settled("a1")
      for (let i = 0; i < 10_000; i++) yield* inbox.read(`http:poller-${i}`, 0, 0)
      yield* intake.submit({ id: "c1", source: "http:carol", text: "hello" })
      yield* settled("c1")
      const page = yield* inbox.read("http:alice", 0, 0)
      assert.deepStrictEqual(page.messages.map((m) => m.text), ["echo: hi"])
    }).pipe(Effect.provide(gateway(Session.echo))))
})

describe("review: dispatcher", () => {
  // Dispatcher.ts:178 `router.deliver(...).pipe(Effect.ignore)` ignores failures but not defects, and
  // the loop at Dispatcher.ts:205 is `take → handle` forever with nothing catching a defect. One
  // channel sender that throws (a bug, an unexpected API shape) kills the dispatcher fiber: from then
  // on every message is accepted (202 / "queued") and never answered — the queue stops moving for
  // good while /health still passes.
  it.live("a channel sender that crashes on one reply does not stop the queue: the next message is answered", () =>
    Effect.gen(function*() {
      const intake = yield* Intake
      const router = yield* Router
      const scope = yield* Scope.make()
      yield* router.register({ channel: "boom", send: () => Effect.die(new Error("sender bug")) }).pipe(
        Scope.provide(scope)
      )
      yield* intake.submit({ id: "b1", source: "boom:1", text: "first" })
      yield* intake.submit({ id: "h1", source: "http:alice", text: "second" })
      const record = yield* RequestLog.use((log) => log.await("h1", 3_000))
      assert.strictEqual(record?.status, "done", "the message after the crashed delivery was never answered")
    }).pipe(Effect.provide(gateway(Session.echo))))

  // Dispatcher.ts:161-163: any failed exit of the turn fiber that is not a TurnFailed — a defect in
  // the session or a tool — is reported as `Aborted`: the user is told "Stopped." as if they had
  // sent /stop, /status counts it as aborted, and the defect itself is never logged anywhere
  // (Exit.isSuccess is false, the cause is dropped).
  it.live("a turn that crashes is reported as a failure, not as 'Stopped.' and not counted as aborted", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession(() => Effect.die(new Error("bug in a tool")))
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        yield* intake.submit({ id: "x1", source: "http:alice", text: "do it" })
        yield* settled("x1")
        const page = yield* (yield* Inbox).read("http:alice", 0, 0)
        assert.strictEqual(page.messages.length, 1)
        assert.notStrictEqual(page.messages[0]!.text, "Stopped.", "a crash was reported to the user as a stop")
        const stats = yield* (yield* Dispatcher).stats
        assert.strictEqual(stats.aborted, 0, "a crash was counted as an abort")
        assert.strictEqual(stats.failed, 1)
      }).pipe(Effect.provide(gateway(layer)))
    }))
})

describe("review: HTTP, config and shutdown", () => {
  // NodeHttpServer's graceful close (platform-node NodeHttpServer.js:145, default 20 s) waits for open
  // requests, and nothing in src ends a long poll when the daemon stops: GET /v1/inbox?wait= and
  // GET /v1/messages/:id?wait= (Inbox.ts:91, RequestLog.ts:75) keep waiting on their Deferred.
  // `switchboard chat` ALWAYS has such a poll open (commands.ts:99, wait=25), so `systemctl stop` /
  // restart takes an extra ~20 s, and the poll then gets a 503 with an empty (non-JSON) body. With a
  // running turn (shutdownGrace 10 s + 5 s) the stop exceeds the unit's TimeoutStopSec=30 and is
  // SIGKILLed. Fix: end long polls when stopping (race them with a shutdown signal) or pass a short
  // gracefulShutdownTimeout.
  it("SIGTERM while a client long-polls its inbox exits within a few seconds", async () => {
    const d = await startDaemon()
    try {
      const poll = d.fetch("/v1/inbox/cli:local?wait=50").then((r) => r.status, () => "error")
      // Make sure the poll is being served before the stop: a second, short request on its heels.
      await d.fetch("/health")
      const started = Date.now()
      const code = await d.stop()
      const took = Date.now() - started
      await poll
      assert.strictEqual(code, 0)
      assert.isBelow(took, 5_000, `the daemon needed ${took} ms to stop with one long poll open`)
    } finally {
      await d.stop("SIGKILL")
      rmSync(d.stateDir, { recursive: true, force: true })
    }
  }, 45_000)

  // startup.ts:42-45: describeStartupFailure appends `(got "<value>")` with the raw value of the
  // offending variable. REDIS_URL (and OTEL_EXPORTER_OTLP_ENDPOINT, OPENAI_BASE_URL) routinely carry
  // credentials (`redis://user:password@host`); one typo and the password is printed to stderr, i.e.
  // into the journal / launchd log, and the watchdog (watchdog.ts:18) prints the same line every
  // minute. Fix: never echo values of variables that can hold credentials (or strip userinfo).
  it("a malformed REDIS_URL stops the daemon without printing the password it contains", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-review-"))
    try {
      const r = await runDaemonToExit({
        SWITCHBOARD_STATE_DIR: stateDir,
        REDIS_URL: "redis//default:hunter2-s3cret@redis.internal:6379/0"
      })
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "REDIS_URL")
      assert.notInclude(r.stderr + r.stdout, "hunter2-s3cret")
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  // startup.ts:22: a config-file value that is not a string is JSON.stringified, so JSON `null` —
  // the natural way to write "not set" in a JSON template — becomes the literal string "null". With
  // `"SWITCHBOARD_API_TOKEN": null` the daemon starts on a public host (the "token required off
  // loopback" check at GatewayConfig.ts:158 sees Some("null")) and anyone who sends
  // `Authorization: Bearer null` is in. Fix: treat null as absent (skip it), and reject non-string
  // values with a clear line.
  it("a JSON config file with \"SWITCHBOARD_API_TOKEN\": null on a public host is refused like a missing token", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-review-"))
    const file = join(stateDir, "config.json")
    writeFileSync(file, JSON.stringify({ SWITCHBOARD_HTTP_HOST: "0.0.0.0", SWITCHBOARD_API_TOKEN: null }))
    try {
      const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: stateDir, SWITCHBOARD_CONFIG_FILE: file }, 5_000)
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "SWITCHBOARD_API_TOKEN")
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  // HeartbeatRunner.ts:353-364 + turnHealth.ts:18: the "turn" health check's detail names the
  // running request's id and source, and /health is the one route without the bearer token
  // (coreRoutes.ts:43-46, `public: true`). On a host exposed with SWITCHBOARD_API_TOKEN, anyone can
  // poll /health and learn which chat (telegram:<chat id>, http:<client>) is talking to the agent and
  // its request ids — exactly the `active` block that /status protects with the token.
  it.live("unauthenticated /health does not reveal who is talking to the agent", () =>
    Effect.gen(function*() {
      const stateDir = mkdtempSync(join(tmpdir(), "switchboard-review-"))
      const started = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const { layer } = yield* scriptedSession(() =>
        Deferred.succeed(started, undefined).pipe(Effect.andThen(Deferred.await(release)), Effect.as("done"))
      )
      const config = GatewayConfig.test((s) => ({
        ...s,
        stateDir,
        http: { ...s.http, port: 0, apiToken: Option.some(Redacted.make("tok")) },
        heartbeat: { ...s.heartbeat, every: Duration.hours(1) }
      }))
      const graph = HeartbeatRunner.layer.pipe(
        Layer.provideMerge(core(layer)),
        Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
        Layer.provideMerge(config)
      )
      const app = serveHttp(Layer.mergeAll(CoreRoutes, HeartbeatRoutes)).pipe(Layer.provideMerge(graph))
      yield* Effect.gen(function*() {
        const base = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a))
        yield* post(base, { id: "private-request-7", text: "my bank details", source: "http:alice" }, {
          authorization: "Bearer tok"
        })
        yield* Deferred.await(started)
        const health = yield* getJson(base, "/health")
        yield* Deferred.succeed(release, undefined)
        assert.strictEqual(health.status, 200)
        assert.notInclude(health.text, "http:alice")
        assert.notInclude(health.text, "private-request-7")
      }).pipe(Effect.provide(app), Effect.ensuring(Effect.sync(() => rmSync(stateDir, { recursive: true, force: true }))))
    }))
})

describe("review: heartbeat", () => {
  /** The daemon's heartbeat graph on the TestClock with a session answering `reply`. */
  const heartbeatGraph = (reply: (r: Inbound) => Effect.Effect<string, TurnFailed>, every: Duration.Duration) => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-review-"))
    const session = Layer.succeed(
      Session,
      Session.of({
        prompt: (request) => Effect.map(reply(request), (text) => ({ text })),
        reset: Effect.void,
        info: Effect.succeed({ provider: "test", model: "test" })
      })
    )
    const layer = HeartbeatRunner.layer.pipe(
      Layer.provideMerge(core(session)),
      Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
      Layer.provideMerge(GatewayConfig.test((s) => ({ ...s, stateDir, heartbeat: { ...s.heartbeat, every } })))
    )
    return <A, E>(body: Effect.Effect<A, E, Layer.Success<typeof layer>>) =>
      body.pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(() => rmSync(stateDir, { recursive: true, force: true }))))
  }

  // HeartbeatRunner.ts:247-263: when a relay turn fails (model down, timeout), its events stay in
  // SystemEvents "for the next wake" — but nothing ever requests that wake: the interval tick never
  // looks at pending events (tickBody, :166-173), and no retry wake is requested for the key. Unless
  // another event happens to arrive for the same chat, the exec result is never relayed: one
  // transient provider error at the wrong moment and the user never learns their job finished
  // (invariant 4/5: a wake must not be lost). Fix: on a non-Replied relay outcome (other than a
  // user's /stop), request a wake for the key with the retry floor / a backoff.
  it.effect("an exec result whose relay failed once is relayed later without needing another event", () => {
    const attempt = { n: 0 }
    const run = heartbeatGraph((r) => {
      if (r.relay === undefined) return Effect.succeed("ok")
      attempt.n++
      return attempt.n === 1
        ? Effect.fail(new TurnFailed({ reason: "provider 503", userMessage: "Sorry, the model is unavailable." }))
        : Effect.succeed("your build finished")
    }, Duration.minutes(15))
    return run(Effect.gen(function*() {
      const events = yield* SystemEvents
      const wake = yield* HeartbeatWake
      yield* events.enqueue("http:alice", "build #7 finished: exit 0", { trusted: true })
      yield* wake.request({ reason: "exec-event", sessionKey: "http:alice" })
      yield* TestClock.adjust("250 millis")
      yield* until(Effect.sync(() => attempt.n === 1), "first relay")
      yield* until(Effect.map((yield* HeartbeatRunner).stats, (s) => s.relaysInFlight.length === 0), "relay finished")
      // An hour passes: four interval ticks, plenty of retry windows; no new event for alice.
      const inboxTexts = Effect.map(Inbox.use((i) => i.read("http:alice", 0, 0)), (p) => p.messages.map((m) => m.text))
      for (let i = 0; i < 60; i++) {
        yield* TestClock.adjust("1 minute")
        for (let j = 0; j < 100 && !(yield* inboxTexts).includes("your build finished"); j++) yield* Effect.yieldNow
      }
      const inbox = yield* inboxTexts
      assert.include(inbox, "your build finished", `alice only ever got: ${JSON.stringify(inbox)}`)
    }))
  })
})
