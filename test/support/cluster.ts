// Several BUILT daemons (dist/main.js) as one switchboard cluster on a fresh Postgres database:
// each is a runner of effect/cluster with its own cluster port, state dir and HTTP port, and the
// test timings (a 4 s shard lock, few shards). Helpers read each daemon's `/status` cluster
// section, which runner holds how many shard locks (pg_locks), and kill -9 a daemon.
import { rmSync } from "node:fs"
import { type Daemon, eventually, freePort, startDaemon } from "./daemon.ts"
import { type FreshDatabase, freshDatabase, query } from "./postgres.ts"

/** The `cluster` object of `/status` (what the contract promises; anything else passes through). */
export interface ClusterSection {
  readonly runner: string
  readonly [key: string]: unknown
}

export interface ClusterDaemon extends Daemon {
  readonly index: number
  /** `host:port`, this daemon's runner address (as `/status` says it, and as its Postgres sessions are named). */
  readonly runner: string
  readonly clusterPort: number
  /** SIGKILL: no shutdown, its shard locks stay taken until they expire. */
  readonly kill9: () => Promise<number | string>
  readonly alive: () => boolean
  readonly cluster: () => Promise<ClusterSection>
}

export interface ClusterOptions {
  /** How many daemons (default 2). */
  readonly daemons?: number
  /** Environment of every daemon (model, agents file, channels, …). */
  readonly env?: Record<string, string>
  /** Environment of daemon `i` only (on top of `env`). */
  readonly envOf?: (index: number) => Record<string, string>
  /** SWITCHBOARD_CLUSTER_SHARDS, the same on every daemon (default 32: quick to balance). */
  readonly shards?: number
  /** SWITCHBOARD_CLUSTER_LOCK_EXPIRATION (default `4 seconds`). */
  readonly lockExpiration?: string
  /** Start-up timeout per daemon (default 30 s: the first runner creates the cluster tables). */
  readonly timeoutMs?: number
}

export interface TestCluster {
  readonly db: FreshDatabase
  readonly shards: number
  readonly daemons: Array<ClusterDaemon>
  readonly alive: () => Array<ClusterDaemon>
  /** One more daemon in the same cluster. */
  readonly add: (env?: Record<string, string>) => Promise<ClusterDaemon>
  /** Granted shard locks per runner (`host:port`), read from pg_locks. */
  readonly shardLocks: () => Promise<Record<string, number>>
  /** Wait until the shards are locked by the live daemons, an equal share each (±1). */
  readonly settled: (timeoutMs?: number) => Promise<Record<string, number>>
  /** Every daemon's stdout and stderr, for a failing assertion's message. */
  readonly logs: () => string
  /** Kill every daemon still running, drop the database, remove the state dirs. */
  readonly dispose: () => Promise<void>
}

const APP_PREFIX = "switchboard "

/** Start `daemons` daemons on a fresh database. */
export const startCluster = async (options: ClusterOptions = {}): Promise<TestCluster> => {
  const db = await freshDatabase("switchboard_cluster")
  const shards = options.shards ?? 32
  const daemons: Array<ClusterDaemon> = []
  let nextIndex = 0

  const add = async (extra: Record<string, string> = {}): Promise<ClusterDaemon> => {
    const index = nextIndex++
    const clusterPort = await freePort()
    const runner = `127.0.0.1:${clusterPort}`
    const d = await startDaemon({
      timeoutMs: options.timeoutMs ?? 30_000,
      env: {
        SWITCHBOARD_CLUSTER_DATABASE_URL: db.url,
        SWITCHBOARD_CLUSTER_HOST: "127.0.0.1",
        SWITCHBOARD_CLUSTER_PORT: String(clusterPort),
        SWITCHBOARD_CLUSTER_SHARDS: String(shards),
        SWITCHBOARD_CLUSTER_LOCK_EXPIRATION: options.lockExpiration ?? "4 seconds",
        ...options.env,
        ...options.envOf?.(index),
        ...extra
      }
    })
    const alive = () => d.process.exitCode === null && d.process.signalCode === null
    const daemon: ClusterDaemon = {
      ...d,
      index,
      runner,
      clusterPort,
      alive,
      kill9: () => d.stop("SIGKILL"),
      cluster: async () => {
        const { status, body } = await d.json<{ cluster?: ClusterSection }>("/status")
        if (status !== 200 || body.cluster === undefined) {
          throw new Error(`daemon ${index} (${runner}): /status answered ${status} without a cluster section: ${JSON.stringify(body)}`)
        }
        return body.cluster
      }
    }
    daemons[index] = daemon
    return daemon
  }

  const shardLocks = async () => {
    // effect/cluster's SqlRunnerStorage takes one advisory lock (objsubid 2) per shard it owns, on
    // a session named after the runner (the daemon's Postgres application_name).
    const rows = await query<{ app: string; n: number }>(db.url, `
      SELECT a.application_name AS app, count(*)::int AS n
      FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted AND a.datname = current_database()
      GROUP BY 1 ORDER BY 1`)
    return Object.fromEntries(rows.map((r) => [r.app.startsWith(APP_PREFIX) ? r.app.slice(APP_PREFIX.length) : r.app, Number(r.n)]))
  }

  const logs = () =>
    daemons.map((d) => `--- daemon ${d.index} (${d.runner}, ${d.url})\n${d.lines.join("\n")}\n${d.stderr.join("")}`).join("\n")

  const live = () => daemons.filter((d) => d.alive())

  try {
    // All at once: the first runner creates the cluster's tables under an advisory lock.
    await Promise.all(Array.from({ length: options.daemons ?? 2 }, () => add()))
  } catch (e) {
    await Promise.all(daemons.filter((d) => d !== undefined).map((d) => d.stop("SIGKILL")))
    await db.drop().catch(() => {})
    throw e
  }

  return {
    db,
    shards,
    daemons,
    alive: live,
    add,
    shardLocks,
    settled: async (timeoutMs = 20_000) => {
      let last: Record<string, number> = {}
      try {
        return await eventually(async () => {
          last = await shardLocks()
          const runners = live().map((d) => d.runner)
          // Balanced, not just spread: while shards still move from one runner to another, the
          // sessions on them are interrupted and run again elsewhere.
          const even = runners.every((r) => Math.abs((last[r] ?? 0) - shards / runners.length) < 1)
          return even && Object.keys(last).every((r) => runners.includes(r)) ? last : undefined
        }, timeoutMs, 100)
      } catch {
        throw new Error(`the cluster did not settle within ${timeoutMs} ms: shard locks ${JSON.stringify(last)}\n${logs()}`)
      }
    },
    logs,
    // SIGKILL: the database goes with them, so a clean stop's hand-over would only cost time.
    dispose: async () => {
      await Promise.all(daemons.map((d) => d.stop("SIGKILL")))
      await db.drop()
      for (const d of daemons) rmSync(d.stateDir, { recursive: true, force: true })
    }
  }
}
