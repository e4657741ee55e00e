// GET /v1/events: a late client gets the current state first, then changes; a client that does
// not read is dropped with a notice and never holds the daemon up.
import { connect } from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Option, Redacted } from "effect"
import { Events } from "../../../src/channels/http/Events.ts"
import { baseUrl, scriptedSession } from "../../support/harness.ts"
import { dashboardGateway } from "../../support/dashboardHarness.ts"
import { connectSse, parseFrames } from "../../support/sse.ts"

const post = (base: string, body: unknown) =>
  Effect.promise(() =>
    fetch(`${base}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then((r) => r.json() as Promise<any>)
  )

describe("GET /v1/events", () => {
  it.live("a client that connects late gets the current state first, then the turn finishing and its delivery", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { layer } = yield* scriptedSession((r) => r.text === "slow" ? Deferred.await(gate).pipe(Effect.as("done slowly")) : Effect.succeed(`echo: ${r.text}`))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const first = yield* post(base, { text: "quick", source: "http:late" })
        yield* Effect.promise(() => fetch(`${base}/v1/messages/${first.id}?wait=5`).then((r) => r.json()))
        yield* post(base, { text: "slow", source: "http:late" })
        yield* post(base, { text: "waiting", source: "http:other" })
        // The slow turn is running before the client connects.
        yield* Effect.promise(async () => {
          for (let i = 0; i < 200; i++) {
            const s = await fetch(`${base}/status`).then((r) => r.json() as Promise<any>)
            if (s.active !== null) return
            await new Promise((r) => setTimeout(r, 10))
          }
          throw new Error("the slow turn never started")
        })

        const client = yield* Effect.promise(() => connectSse(`${base}/v1/events`))
        const snapshot = yield* Effect.promise(() => client.next(() => true, "the first event"))
        assert.strictEqual(snapshot.type, "snapshot")
        assert.strictEqual(snapshot.data.active.source, "http:late")
        assert.strictEqual(snapshot.data.queue.depth, 1)
        assert.deepStrictEqual(snapshot.data.deliveries.map((d: any) => [d.target, d.kind, d.outcome]), [["http:late", "reply", "delivered"]])
        assert.strictEqual(snapshot.data.health.status, "pass")
        assert.isArray(snapshot.data.channels)
        assert.isTrue(snapshot.data.channels.some((c: any) => c.name === "http" && c.state === "up"))

        yield* Deferred.succeed(gate, undefined)
        const finished = yield* Effect.promise(() => client.next((e) => e.type === "turn.finished" && e.data.source === "http:late", "the slow turn finishing"))
        assert.strictEqual(finished.data.outcome, "Replied")
        const delivery = yield* Effect.promise(() => client.next((e) => e.type === "delivery" && e.data.target === "http:late", "its delivery"))
        assert.strictEqual(delivery.data.outcome, "delivered")
        // The waiting message runs next: the sampled sections say so.
        yield* Effect.promise(() => client.next((e) => e.type === "turn.started" && e.data.source === "http:other", "the next message's turn starting"))
        yield* Effect.promise(() => client.next((e) => e.type === "queue" && e.data.depth === 0, "the queue emptied"))
        client.close()
      }).pipe(Effect.provide(dashboardGateway(layer)))
    }))

  it.live("a client that stops reading is dropped with a notice; publishing never waits and the API keeps answering", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(`echo: ${r.text}`))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const events = yield* Events
        const { port } = new URL(base)
        const socket = connect(Number(port), "127.0.0.1")
        yield* Effect.promise(() => new Promise<void>((resolve) => socket.once("connect", () => resolve())))
        socket.write(`GET /v1/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
        socket.pause()
        yield* Effect.promise(async () => {
          for (let i = 0; i < 200 && (await Effect.runPromise(events.stats)).clients === 0; i++) await new Promise((r) => setTimeout(r, 10))
        })
        assert.strictEqual((yield* events.stats).clients, 1)

        // 200 events of 128 KB: far more than the socket buffers and the 16-event buffer hold.
        const big = "x".repeat(128 * 1024)
        for (let i = 0; i < 200; i++) yield* events.publish({ type: "test", data: { i, big } })
        const stats = yield* events.stats
        assert.strictEqual(stats.dropped, 1)
        assert.strictEqual(stats.clients, 0)

        const metrics = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
        assert.match(metrics, /^switchboard_events_dropped_total(\{[^}]*\})? [1-9]/m)
        // Meanwhile the daemon answers as usual.
        const answered = yield* post(base, { text: "still here", source: "http:fast" })
        const done = yield* Effect.promise(() => fetch(`${base}/v1/messages/${answered.id}?wait=5`).then((r) => r.json() as Promise<any>))
        assert.strictEqual(done.reply, "echo: still here")

        // Reading again, the client finds the notice at the end of what it was sent.
        const text = yield* Effect.promise(() =>
          new Promise<string>((resolve) => {
            const chunks: Array<Buffer> = []
            socket.on("data", (c: Buffer) => {
              chunks.push(c)
              if (c.toString("latin1").includes("event: dropped")) {
                socket.destroy()
                resolve(Buffer.concat(chunks).toString("utf8"))
              }
            })
            socket.resume()
          })
        )
        const body = text.slice(text.indexOf("\r\n\r\n") + 4).replace(/\r\n[0-9a-f]+\r\n/g, "")
        const frames = parseFrames(body.replace(/^[0-9a-f]+\r\n/, "")).events
        assert.strictEqual(frames[0]?.type, "snapshot")
        const last = text.slice(text.lastIndexOf("event: dropped"))
        assert.match(last, /more than 16 events waited for this client/)
      }).pipe(Effect.provide(dashboardGateway(layer, (s) => ({ ...s, dashboard: { ...s.dashboard, eventBuffer: 16 } }))))
    }))

  it.live("beyond SWITCHBOARD_EVENTS_MAX_CLIENTS a client is refused with 503 too_many_clients", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const first = yield* Effect.promise(() => connectSse(`${base}/v1/events`))
        const second = yield* Effect.promise(() => connectSse(`${base}/v1/events`))
        yield* Effect.promise(() => first.next(() => true, "the first client's snapshot"))
        yield* Effect.promise(() => second.next(() => true, "the second client's snapshot"))
        const third = yield* Effect.promise(() => fetch(`${base}/v1/events`).then(async (r) => ({ status: r.status, body: await r.json() as any })))
        assert.strictEqual(third.status, 503)
        assert.strictEqual(third.body.error.code, "too_many_clients")
        first.close()
        second.close()
      }).pipe(Effect.provide(dashboardGateway(layer, (s) => ({ ...s, dashboard: { ...s.dashboard, maxEventClients: 2 } }))))
    }))

  it.live("a request without the token gets 401 and no events", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession((r) => Effect.succeed(r.text))
      yield* Effect.gen(function*() {
        const base = yield* baseUrl
        const res = yield* Effect.promise(() => fetch(`${base}/v1/events`))
        assert.strictEqual(res.status, 401)
        const wrong = yield* Effect.promise(() => fetch(`${base}/v1/events`, { headers: { authorization: "Bearer nope" } }))
        assert.strictEqual(wrong.status, 401)
        const client = yield* Effect.promise(() => connectSse(`${base}/v1/events`, { authorization: "Bearer tok-1" }))
        assert.strictEqual((yield* Effect.promise(() => client.next(() => true, "snapshot"))).type, "snapshot")
        client.close()
      }).pipe(Effect.provide(dashboardGateway(layer, (s) => ({ ...s, http: { ...s.http, apiToken: Option.some(Redacted.make("tok-1")) } }))))
    }))
})
