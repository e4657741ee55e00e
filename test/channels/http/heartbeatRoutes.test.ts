// The heartbeat's HTTP contract on a real socket: POST /v1/system-events (validated, enqueued, woken)
// → the relay reaches GET /v1/inbox/<key>; POST /v1/admin/reload replaces the runner.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { CoreRoutes } from "../../../src/channels/http/coreRoutes.ts"
import { HeartbeatRoutes } from "../../../src/channels/http/heartbeatRoutes.ts"
import { core } from "../../../src/layers/Core.ts"
import { serveHttp } from "../../../src/layers/HttpServer.ts"
import { GatewayConfig } from "../../../src/config/GatewayConfig.ts"
import { HeartbeatRunner } from "../../../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../../src/heartbeat/HeartbeatWake.ts"
import { Session } from "../../../src/core/Session.ts"
import { SystemEvents } from "../../../src/heartbeat/SystemEvents.ts"
import { Store } from "../../../src/store/Store.ts"

const TOKEN = "test-token"

const app = (stateDir: string) => {
  const config = GatewayConfig.test((s) => ({
    ...s,
    stateDir,
    http: { ...s.http, port: 0, apiToken: Option.some(Redacted.make(TOKEN)) },
    heartbeat: { ...s.heartbeat, every: Duration.hours(1), coalesce: Duration.millis(20) }
  }))
  const graph = HeartbeatRunner.layer.pipe(
    Layer.provideMerge(core(Session.echo)),
    Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(config)
  )
  return serveHttp(Layer.mergeAll(CoreRoutes, HeartbeatRoutes)).pipe(Layer.provideMerge(graph))
}

type Call = (
  method: string,
  path: string,
  json?: unknown,
  options?: { readonly auth?: boolean }
) => Promise<{ status: number; body: any }>

const withApp = <A, E>(body: (call: Call) => Effect.Effect<A, E, SystemEvents>) =>
  Effect.gen(function*() {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-hbroutes-"))
    return yield* Effect.gen(function*() {
      const base = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a))
      const call: Call = async (method, path, json, options) => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(options?.auth === false ? {} : { authorization: `Bearer ${TOKEN}` }),
            ...(json !== undefined ? { "content-type": "application/json" } : {})
          },
          ...(json !== undefined ? { body: JSON.stringify(json) } : {})
        })
        const text = await res.text()
        return { status: res.status, body: text ? JSON.parse(text) : undefined }
      }
      return yield* body(call)
    }).pipe(
      Effect.provide(app(stateDir)),
      Effect.ensuring(Effect.sync(() => rmSync(stateDir, { recursive: true, force: true })))
    )
  })

describe("heartbeat HTTP routes", () => {
  it.live("POST /v1/system-events enqueues and wakes; the relay lands in the inbox of that key only", () =>
    withApp((call) =>
      Effect.gen(function*() {
        const posted = yield* Effect.promise(() =>
          call("POST", "/v1/system-events", { sessionKey: "http:alice", text: "backup finished", contextKey: "job-1" })
        )
        assert.strictEqual(posted.status, 202)
        assert.strictEqual(posted.body.sessionKey, "http:alice")
        assert.strictEqual(posted.body.woke, true)
        const inbox = yield* Effect.promise(() => call("GET", "/v1/inbox/http:alice?wait=5"))
        assert.strictEqual(inbox.status, 200)
        assert.strictEqual(inbox.body.messages.length, 1)
        assert.match(inbox.body.messages[0].text, /^echo: A system event arrived for this chat \(http:alice\)/)
        assert.match(inbox.body.messages[0].text, /UNTRUSTED.*\[job-1\]: «backup finished»/)
        const bob = yield* Effect.promise(() => call("GET", "/v1/inbox/http:bob"))
        assert.deepStrictEqual(bob.body.messages, [])
        // Consumed after the relay replied.
        for (let i = 0; i < 100 && (yield* (yield* SystemEvents).peek("http:alice")).length > 0; i++) yield* Effect.sleep(10)
        const status = yield* Effect.promise(() => call("GET", "/status"))
        assert.deepStrictEqual(status.body.heartbeat.systemEvents.pending, {})
        assert.strictEqual(status.body.heartbeat.relays.replied, 1)
      })
    ))

  it.live("wake: false only enqueues; bad bodies get 400 with the contract's error shape", () =>
    withApp((call) =>
      Effect.gen(function*() {
        const quiet = yield* Effect.promise(() =>
          call("POST", "/v1/system-events", { sessionKey: "http:ops", text: "noted", wake: false })
        )
        assert.strictEqual(quiet.status, 202)
        assert.strictEqual(quiet.body.pending, 1)
        const repeat = yield* Effect.promise(() =>
          call("POST", "/v1/system-events", { sessionKey: "http:ops", text: "noted", wake: false })
        )
        assert.strictEqual(repeat.body.pending, 1, "a consecutive duplicate is skipped")
        assert.isDefined(repeat.body.skipped)

        for (const bad of [{ text: "no key" }, { sessionKey: "alice", text: "x" }, { sessionKey: "http:a", text: "" }, {
          sessionKey: "http:a",
          text: "x",
          reason: "Not A Reason!"
        }]) {
          const res = yield* Effect.promise(() => call("POST", "/v1/system-events", bad))
          assert.strictEqual(res.status, 400, JSON.stringify(bad))
          assert.strictEqual(res.body.error.code, "invalid_body")
        }
        // Telegram is off here: its chats cannot be reached, so an event for one is refused, not lost.
        const unreachable = yield* Effect.promise(() =>
          call("POST", "/v1/system-events", { sessionKey: "telegram:222", text: "deploy done" })
        )
        assert.strictEqual(unreachable.status, 400)
        assert.strictEqual(unreachable.body.error.code, "unknown_channel")
        const unauth = yield* Effect.promise(() =>
          call("POST", "/v1/system-events", { sessionKey: "http:a", text: "x" }, { auth: false })
        )
        assert.strictEqual(unauth.status, 401)
      })
    ))

  it.live("POST /v1/admin/reload replaces the runner and reports the settings", () =>
    withApp((call) =>
      Effect.gen(function*() {
        const res = yield* Effect.promise(() => call("POST", "/v1/admin/reload"))
        assert.strictEqual(res.status, 200)
        assert.strictEqual(res.body.reloaded, true)
        assert.strictEqual(res.body.generation, 2)
        assert.strictEqual(res.body.heartbeat.every, "15m", "re-read from the ConfigProvider (defaults here)")
        const status = yield* Effect.promise(() => call("GET", "/status"))
        assert.strictEqual(status.body.heartbeat.liveRunners, 1)
        assert.strictEqual(status.body.heartbeat.every, "15m")
      })
    ))
})
