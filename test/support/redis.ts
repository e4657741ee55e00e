// Redis for tests: a client on the machine's Redis (127.0.0.1:6379) in a DB number of the test
// file's own (the redis engineer's are 1-6), with helpers to publish to switchboard:inbound and
// read switchboard:outbound / switchboard:dead; and a redis-server of the test's own on a free
// port, to stop, restart (it keeps nothing on disk, like this machine's) and pause.
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Redis } from "ioredis"
import { eventually, freePort } from "./daemon.ts"

export const REDIS_HOST = "127.0.0.1"
export const REDIS_PORT = Number(process.env["REDIS_PORT"] ?? 6379)
export const redisUrl = (db: number, port = REDIS_PORT) => `redis://${REDIS_HOST}:${port}/${db}`

export interface StreamEntry {
  readonly id: string
  readonly fields: Record<string, string>
}

const toEntries = (rows: Array<[string, Array<string>]>): Array<StreamEntry> =>
  rows.map(([id, flat]) => {
    const fields: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!
    return { id, fields }
  })

export interface Bus {
  readonly redis: Redis
  readonly url: string
  /** XADD to switchboard:inbound; fields as given (pairs, so a field may be repeated). */
  readonly publish: (fields: Record<string, string> | ReadonlyArray<string>) => Promise<string>
  readonly outbound: () => Promise<Array<StreamEntry>>
  readonly dead: () => Promise<Array<StreamEntry>>
  /** Wait until switchboard:outbound holds an entry matching `match`. */
  readonly waitOutbound: (match: (e: StreamEntry) => boolean, timeoutMs?: number) => Promise<StreamEntry>
  /** Wait until switchboard:dead holds `n` entries. */
  readonly waitDead: (n: number, timeoutMs?: number) => Promise<Array<StreamEntry>>
  readonly close: () => Promise<void>
}

/** A client on `url` (a DB of its own); flushes that DB first unless told not to. */
export const connectBus = async (url: string, options: { readonly flush?: boolean } = {}): Promise<Bus> => {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 50, 500) })
  redis.on("error", () => {})
  if (options.flush !== false) await redis.flushdb()
  const range = async (stream: string) => toEntries((await redis.xrange(stream, "-", "+")) as Array<[string, Array<string>]>)
  const outbound = () => range("switchboard:outbound")
  const dead = () => range("switchboard:dead")
  return {
    redis,
    url,
    publish: async (fields) => {
      const flat = Array.isArray(fields) ? [...fields] : Object.entries(fields).flat()
      return (await redis.xadd("switchboard:inbound", "*", ...flat))!
    },
    outbound,
    dead,
    waitOutbound: (match, timeoutMs = 15_000) =>
      eventually(async () => (await outbound()).find(match), timeoutMs),
    waitDead: (n, timeoutMs = 15_000) =>
      eventually(async () => {
        const entries = await dead()
        return entries.length >= n ? entries : undefined
      }, timeoutMs),
    close: async () => {
      await redis.quit().catch(() => redis.disconnect())
    }
  }
}

export interface RedisServer {
  readonly port: number
  readonly url: (db?: number) => string
  readonly start: () => Promise<void>
  /** SIGTERM and wait for the exit; everything in it is gone (no persistence). */
  readonly stop: () => Promise<void>
  /** SIGSTOP / SIGCONT: a server that accepts connections but answers nothing (a stalled one). */
  readonly pause: () => void
  readonly resume: () => void
  readonly dispose: () => Promise<void>
}

/** A redis-server of the test's own on a free port; not started until `start()`. */
export const redisServer = async (): Promise<RedisServer> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "switchboard-redis-"))
  let child: ChildProcess | undefined
  const ping = async () => {
    const probe = new Redis({ host: REDIS_HOST, port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    probe.on("error", () => {})
    try {
      await probe.connect()
      return (await probe.ping()) === "PONG" ? true : undefined
    } catch {
      return undefined
    } finally {
      probe.disconnect()
    }
  }
  const stop = async () => {
    const running = child
    child = undefined
    if (running === undefined || running.exitCode !== null) return
    const exited = new Promise((resolve) => running.once("exit", resolve))
    running.kill("SIGCONT")
    running.kill("SIGTERM")
    await exited
  }
  return {
    port,
    url: (db = 0) => redisUrl(db, port),
    start: async () => {
      child = spawn("redis-server", [
        "--port", String(port), "--bind", REDIS_HOST, "--save", "", "--appendonly", "no", "--dir", dir
      ], { stdio: "ignore" })
      await eventually(ping, 10_000, 25)
    },
    stop,
    pause: () => void child?.kill("SIGSTOP"),
    resume: () => void child?.kill("SIGCONT"),
    dispose: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
