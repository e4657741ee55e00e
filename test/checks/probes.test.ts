// The live probes against real things: an HTTP server, a TCP port, programs (exit codes, a
// timeout that ends the whole process group, exec's environment rules), a file's age, and a real
// Redis (DB 7): a key, and a stream's consumer-group lag.
import { createServer } from "node:http"
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { Redis } from "ioredis"
import { Probes } from "../../src/checks/Probes.ts"
import type { ProbeSpec } from "../../src/checks/checkFile.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { freePort } from "../support/daemon.ts"
import { redisUrl } from "../support/redis.ts"

const REDIS_URL = redisUrl(7)
const API_TOKEN = "api-token-of-the-daemon"
const layer = Probes.live.pipe(
  Layer.provide(GatewayConfig.test((s) => ({
    ...s,
    http: { ...s.http, apiToken: Option.some(Redacted.make(API_TOKEN)) },
    redis: { ...s.redis, url: Option.some(Redacted.make(REDIS_URL)) },
    exec: { ...s.exec, passEnv: [] }
  })))
)
const probe = (spec: ProbeSpec) => Effect.flatMap(Probes, (p) => p.run("t", spec)).pipe(Effect.provide(layer))

const server = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ url: string; close: () => void }>((resolve) => {
      const s = createServer((req, res) => {
        if (req.url === "/down") res.statusCode = 503
        res.end(req.url === "/ok" ? "all good" : "meh")
      })
      s.listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port
        resolve({ url: `http://127.0.0.1:${port}`, close: () => s.close() })
      })
    })
  ),
  (s) => Effect.sync(() => s.close())
)

describe("live probes", () => {
  it.live("http: status and body text; a refused connection says so", () =>
    Effect.gen(function*() {
      const { url } = yield* server
      const ok = yield* probe({ kind: "http", url: `${url}/ok`, status: 200, contains: "good" })
      assert.isTrue(ok.ok)
      assert.match(ok.detail, /^HTTP 200 in \d+ ms$/)
      assert.deepStrictEqual(yield* probe({ kind: "http", url: `${url}/down`, status: 200, contains: undefined }), {
        ok: false,
        detail: "HTTP 503 (expected 200)"
      })
      assert.include((yield* probe({ kind: "http", url: `${url}/x`, status: 200, contains: "good" })).detail, "does not contain \"good\"")
      const port = yield* Effect.promise(freePort)
      assert.deepStrictEqual(yield* probe({ kind: "http", url: `http://127.0.0.1:${port}/`, status: 200, contains: undefined }), {
        ok: false,
        detail: "connection refused"
      })
    }))

  it.live("tcp: a listening port is ok, a closed one is refused", () =>
    Effect.gen(function*() {
      const { url } = yield* server
      const port = Number(new URL(url).port)
      assert.isTrue((yield* probe({ kind: "tcp", host: "127.0.0.1", port })).ok)
      const closed = yield* Effect.promise(freePort)
      assert.deepStrictEqual(yield* probe({ kind: "tcp", host: "127.0.0.1", port: closed }), {
        ok: false,
        detail: `127.0.0.1:${closed}: connection refused`
      })
    }))

  it.live("command: exit 0 is ok, anything else fails with its output; secrets stay out of its environment", () =>
    Effect.gen(function*() {
      process.env["CHECKS_TEST_SECRET_TOKEN"] = "do-not-pass"
      const env = yield* probe({ kind: "command", argv: ["sh", "-c", "echo token=${CHECKS_TEST_SECRET_TOKEN:-none}"], env: [] })
      assert.deepStrictEqual(env, { ok: true, detail: "exit 0: token=none" })
      process.env["CHECKS_TEST_REGION"] = "eu-west"
      const passed = yield* probe({ kind: "command", argv: ["sh", "-c", "echo $CHECKS_TEST_REGION"], env: ["CHECKS_TEST_REGION"] })
      assert.strictEqual(passed.detail, "exit 0: eu-west") // a variable the check names is passed
      delete process.env["CHECKS_TEST_SECRET_TOKEN"]
      delete process.env["CHECKS_TEST_REGION"]
      // Output is scrubbed of the daemon's own secrets, as exec's is.
      assert.strictEqual((yield* probe({ kind: "command", argv: ["echo", `found ${API_TOKEN}`], env: [] })).detail, "exit 0: found [redacted]")
      assert.deepStrictEqual(yield* probe({ kind: "command", argv: ["sh", "-c", "echo disk full >&2; exit 3"], env: [] }), {
        ok: false,
        detail: "exit 3: disk full"
      })
      assert.include((yield* probe({ kind: "command", argv: ["/nonexistent/prog"], env: [] })).detail, "cannot start /nonexistent/prog")
    }))

  it.live("command: a timeout ends the program and what it started", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "switchboard-probe-"))
      const pidFile = join(dir, "child.pid")
      const timedOut = yield* probe({ kind: "command", argv: ["sh", "-c", `sleep 30 & echo $! > ${pidFile}; wait`], env: [] }).pipe(
        Effect.timeoutOption("500 millis")
      )
      assert.isTrue(Option.isNone(timedOut))
      const child = Number(yield* Effect.promise(() => import("node:fs/promises").then((f) => f.readFile(pidFile, "utf8"))))
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      }
      for (let i = 0; i < 100 && alive(child); i++) yield* Effect.sleep("20 millis")
      assert.isFalse(alive(child), "the program's child survived the timeout")
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("file-age: newer than maxAge is ok; older or missing fails", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "switchboard-probe-"))
      const path = join(dir, "tripwire")
      writeFileSync(path, "x")
      assert.isTrue((yield* probe({ kind: "file-age", path, maxAgeMs: 60_000 })).ok)
      const old = Date.now() / 1000 - 3600
      utimesSync(path, old, old)
      assert.deepStrictEqual(yield* probe({ kind: "file-age", path, maxAgeMs: 60_000 }), {
        ok: false,
        detail: `${path} is 1 h old (at most 1 min)`
      })
      assert.isFalse((yield* probe({ kind: "file-age", path: join(dir, "nope"), maxAgeMs: 1 })).ok)
      rmSync(dir, { recursive: true, force: true })
    }))

  it.live("redis: a key exists; a consumer group's lag stays under the bound", () =>
    Effect.gen(function*() {
      const redis = yield* Effect.acquireRelease(
        Effect.sync(() => new Redis(REDIS_URL)),
        (r) => Effect.promise(() => r.quit())
      )
      yield* Effect.promise(() => redis.flushdb())
      assert.deepStrictEqual(yield* probe({ kind: "redis-key", key: "alive" }), { ok: false, detail: "key alive does not exist" })
      yield* Effect.promise(() => redis.set("alive", "1"))
      assert.isTrue((yield* probe({ kind: "redis-key", key: "alive" })).ok)
      yield* Effect.promise(() => redis.xgroup("CREATE", "jobs", "workers", "$", "MKSTREAM"))
      for (let i = 0; i < 3; i++) yield* Effect.promise(() => redis.xadd("jobs", "*", "n", String(i)))
      assert.deepStrictEqual(yield* probe({ kind: "redis-lag", stream: "jobs", group: "workers", maxLag: 5 }), {
        ok: true,
        detail: "jobs/workers lag 3"
      })
      assert.isFalse((yield* probe({ kind: "redis-lag", stream: "jobs", group: "workers", maxLag: 2 })).ok)
      assert.include((yield* probe({ kind: "redis-lag", stream: "jobs", group: "other", maxLag: 2 })).detail, "has no group other")
      yield* Effect.promise(() => redis.flushdb())
    }))
})
