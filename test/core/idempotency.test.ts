// Idempotency keys as clients use them: scoped by the source that sent them, counted as duplicates
// in /status, and forgotten after SWITCHBOARD_DEDUPE_WINDOW. Each case once failed; its comment says
// how.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TestClock } from "effect/testing"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Session } from "../../src/core/Session.ts"
import { Status } from "../../src/core/Status.ts"
import { baseUrl, gateway, gatewayWithHttp, scriptedSession, until } from "../support/harness.ts"

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


const echo = scriptedSession((request) => Effect.succeed(`echo: ${request.text}`))

describe("idempotency keys", () => {
  // A key is the client's own. It was once used as the request id as is, so two HTTP clients that
  // number their messages 1, 2, 3… shared one namespace: bob's message "1" was answered
  // `duplicate: true` and never reached the agent, and GET /v1/messages/1 showed bob alice's reply. The
  // same hole let any HTTP client pre-empt a Telegram message by posting id "telegram:<update_id>".
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

  // A known id was once answered as a duplicate from the RequestLog before the queue's duplicate
  // counter was reached: the second POST got `{"duplicate":true}`, yet /status said `"duplicates":0`
  // and /metrics had no switchboard_queue_duplicates_total line.
  it.effect("/status counts a request id sent twice as one duplicate", () =>
    Effect.gen(function*() {
      const session = yield* echo
      return yield* Effect.gen(function*() {
        const intake = yield* Intake
        assert.strictEqual((yield* intake.submit({ id: "http:me~msg-1", source: "http:me", text: "hello" }))._tag, "Queued")
        yield* until(Effect.map((yield* RequestLog).get("http:me~msg-1"), (r) => r?.status === "done"), "answered")
        const again = yield* intake.submit({ id: "http:me~msg-1", source: "http:me", text: "hello" })
        assert.strictEqual(again._tag, "Duplicate")
        const snapshot = (yield* (yield* Status).snapshot) as { queue: { duplicates: number } }
        assert.strictEqual(snapshot.queue.duplicates, 1, "/status queue.duplicates")
      }).pipe(Effect.provide(gateway(session.layer)))
    }))

  // Every id still in the RequestLog was once a duplicate, and the log forgets by count, not by time:
  // a key reused hours later (a daily job posting "nightly-report") was dropped as a duplicate forever
  // on a quiet daemon, although SWITCHBOARD_DEDUPE_WINDOW says otherwise.
  it.effect("a key sent again after SWITCHBOARD_DEDUPE_WINDOW is answered again", () =>
    Effect.gen(function*() {
      const session = yield* echo
      return yield* Effect.gen(function*() {
        const intake = yield* Intake
        const requests = yield* RequestLog
        yield* intake.submit({ id: "http:cron~nightly-report", source: "http:cron", text: "report" })
        yield* until(Effect.map(requests.get("http:cron~nightly-report"), (r) => r?.status === "done"), "answered")
        yield* TestClock.adjust("2 hours") // twice the default window (1 hour)
        const tomorrow = yield* intake.submit({ id: "http:cron~nightly-report", source: "http:cron", text: "report" })
        assert.strictEqual(tomorrow._tag, "Queued", "refused as a duplicate after the window")
      }).pipe(Effect.provide(gateway(session.layer, (s) => ({ ...s, queue: { ...s.queue, dedupeWindow: Duration.hours(1) } }))))
    }))
})
