// How one run of a check finds out: an HTTP request, a TCP connect, a program (argv, no shell,
// exec's environment rules), a file's age, a Redis key or a stream's consumer lag. Never fails:
// every problem is a failed result with a detail a person can act on. Interruptible, so the
// caller's timeout ends a run that hangs (a program's whole process group is killed).
import { stat } from "node:fs/promises"
import { connect } from "node:net"
import { Clock, Context, Effect, Layer, Option, Redacted } from "effect"
import type { Redis } from "ioredis"
import { execEnvironment } from "../agent/exec/argv.ts"
import { startProcessGroup } from "../agent/exec/processGroup.ts"
import { scrubSecrets } from "../agent/exec/scrub.ts"
import { secretValues } from "../config/secretFiles.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import type { ProbeSpec } from "./checkFile.ts"
import type { Result } from "./stateMachine.ts"
import { formatSpan } from "./alertText.ts"

export class Probes extends Context.Service<Probes, {
  readonly run: (name: string, probe: ProbeSpec) => Effect.Effect<Result>
}>()("switchboard/Probes") {
  static readonly live = Layer.effect(
    Probes,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const passEnv = config.exec.passEnv
      // A program's output goes into alerts, the digest and the model's context: as exec's does, it
      // is scrubbed of every secret the daemon knows.
      const secrets = secretValues(config, process.env)
      // One Redis connection of its own, opened on the first redis check (the bus has its own).
      const redisUrl = Option.map(config.redis.url, Redacted.value)
      const redis = { client: undefined as Redis | undefined }
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          const c = redis.client
          if (c === undefined) return
          await Promise.race([c.quit().catch(() => c.disconnect()), new Promise((r) => setTimeout(r, 2000))])
        })
      )
      const redisClient = Effect.promise(async () => {
        if (redis.client !== undefined) return redis.client
        const { Redis: RedisCtor } = await import("ioredis")
        const c = new RedisCtor(Option.getOrElse(redisUrl, () => "redis://127.0.0.1:6379"), {
          lazyConnect: false,
          maxRetriesPerRequest: 1,
          enableOfflineQueue: true
        })
        c.on("error", () => {}) // failures show in the check's result
        redis.client = c
        return c
      })

      const http = (probe: Extract<ProbeSpec, { kind: "http" }>) =>
        Effect.tryPromise({
          try: async (signal) => {
            const started = performance.now()
            const res = await fetch(probe.url, { signal, redirect: "manual", headers: { "user-agent": "switchboard-check" } })
            const ms = Math.round(performance.now() - started)
            let body = ""
            if (probe.contains !== undefined) body = (await res.text()).slice(0, 1024 * 1024)
            else await res.body?.cancel()
            if (res.status !== probe.status) return { ok: false, detail: `HTTP ${res.status} (expected ${probe.status})` }
            if (probe.contains !== undefined && !body.includes(probe.contains)) {
              return { ok: false, detail: `HTTP ${res.status}, but the body does not contain "${probe.contains}"` }
            }
            return { ok: true, detail: `HTTP ${res.status} in ${ms} ms` }
          },
          catch: (e) => e
        }).pipe(Effect.catch((e) => Effect.succeed({ ok: false, detail: networkError(e) })))

      const tcp = (probe: Extract<ProbeSpec, { kind: "tcp" }>) =>
        Effect.callback<Result>((resume, signal) => {
          const socket = connect({ host: probe.host, port: probe.port })
          const done = (r: Result) => {
            socket.destroy()
            resume(Effect.succeed(r))
          }
          socket.once("connect", () => done({ ok: true, detail: `connected to ${probe.host}:${probe.port}` }))
          socket.once("error", (e) => done({ ok: false, detail: `${probe.host}:${probe.port}: ${networkError(e)}` }))
          signal.addEventListener("abort", () => socket.destroy())
        })

      const command = (probe: Extract<ProbeSpec, { kind: "command" }>) =>
        Effect.acquireUseRelease(
          Effect.sync(() =>
            startProcessGroup(probe.argv, { env: execEnvironment(process.env, [...passEnv, ...probe.env]), outputCap: 2048 })
          ),
          (group) =>
            Effect.promise(() => group.exited).pipe(Effect.map((end): Result => {
              const tail = scrubSecrets(group.output(), secrets).trim().split("\n").slice(-3).join(" | ")
              if (end._tag === "SpawnFailed") return { ok: false, detail: `cannot start ${probe.argv[0]}: ${end.message}` }
              if (end.code === 0) return { ok: true, detail: tail === "" ? "exit 0" : `exit 0: ${tail}` }
              const how = end.code === null ? `killed by ${end.signal}` : `exit ${end.code}`
              return { ok: false, detail: tail === "" ? how : `${how}: ${tail}` }
            })),
          // Ended or timed out: nothing of it may stay behind.
          (group) => Effect.sync(() => group.alive() && group.signal("SIGKILL"))
        )

      const fileAge = (probe: Extract<ProbeSpec, { kind: "file-age" }>) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const info = yield* Effect.tryPromise(() => stat(probe.path)).pipe(Effect.option)
          if (Option.isNone(info)) return { ok: false, detail: `${probe.path} does not exist or cannot be read` }
          const age = now - info.value.mtimeMs
          return age <= probe.maxAgeMs
            ? { ok: true, detail: `${probe.path} is ${formatSpan(age)} old` }
            : { ok: false, detail: `${probe.path} is ${formatSpan(age)} old (at most ${formatSpan(probe.maxAgeMs)})` }
        })

      const redisProbe = (probe: Extract<ProbeSpec, { kind: "redis-key" | "redis-lag" }>) =>
        Effect.flatMap(redisClient, (c) =>
          Effect.tryPromise({
            try: async (): Promise<Result> => {
              if (probe.kind === "redis-key") {
                return (await c.exists(probe.key)) === 1
                  ? { ok: true, detail: `key ${probe.key} exists` }
                  : { ok: false, detail: `key ${probe.key} does not exist` }
              }
              const groups = (await c.xinfo("GROUPS", probe.stream)) as Array<Array<unknown>>
              const group = groups.map(pairs).find((g) => g["name"] === probe.group)
              if (group === undefined) return { ok: false, detail: `stream ${probe.stream} has no group ${probe.group}` }
              const lag = Number(group["lag"] ?? group["pending"] ?? 0)
              return lag <= probe.maxLag
                ? { ok: true, detail: `${probe.stream}/${probe.group} lag ${lag}` }
                : { ok: false, detail: `${probe.stream}/${probe.group} lag ${lag} (at most ${probe.maxLag})` }
            },
            catch: (e) => e
          })).pipe(Effect.catch((e) => Effect.succeed({ ok: false, detail: `redis: ${(e as Error).message ?? String(e)}` })))

      const run = (_name: string, probe: ProbeSpec): Effect.Effect<Result> => {
        switch (probe.kind) {
          case "http":
            return http(probe)
          case "tcp":
            return tcp(probe)
          case "command":
            return command(probe)
          case "file-age":
            return fileAge(probe)
          case "redis-key":
          case "redis-lag":
            return redisProbe(probe)
          case "push":
            return Effect.succeed({ ok: true, detail: "pushed" })
        }
      }
      return Probes.of({ run })
    })
  )
}

const pairs = (flat: Array<unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

/** `connection refused`, `host not found`, … from a fetch or socket error. */
const networkError = (e: unknown): string => {
  const err = e as { cause?: { code?: string; message?: string }; code?: string; message?: string; name?: string }
  const code = err.cause?.code ?? err.code
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused"
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "host not found"
    case "ECONNRESET":
      return "connection reset"
    case "ETIMEDOUT":
      return "connection timed out"
  }
  return err.cause?.message ?? err.message ?? String(e)
}
