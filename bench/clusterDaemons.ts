// Built daemons as runners of one cluster for the sessions bench: a fresh Postgres database per
// measurement (dropped WITH (FORCE), so a kill -9'd runner's connections cannot keep it), a cluster
// port and state dir of their own per daemon, and a wait until every runner holds shards, so a
// figure measures the cluster at work and not its start-up rebalancing.
import { rmSync } from "node:fs"
import { type Daemon, eventually, freePort, startDaemon } from "../test/support/daemon.ts"
import { type FreshDatabase, freshDatabase, query } from "../test/support/postgres.ts"

export interface Cluster {
  readonly db: FreshDatabase
  readonly daemons: ReadonlyArray<Daemon>
  /** `host:port` of each daemon's runner. */
  readonly addresses: ReadonlyArray<string>
}

const SHARDS = 300

/** Distinct free ports (two calls to freePort may hand out the same one). */
const freePorts = async (n: number) => {
  const ports = new Set<number>()
  while (ports.size < n) ports.add(await freePort())
  return [...ports]
}

// On Postgres, effect/cluster holds a shard as a session advisory lock (cluster_locks stays empty):
// key (namespace, 1000000 + shard number) for the default group. The daemon names its connections
// `switchboard <host>:<port>` (application_name), which says which runner a lock's session is.
const heldLocks = `SELECT substr(a.application_name, 13) AS address, l.objid::int - 1000000 AS shard
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`

/** Shards held per runner address right now. */
export const shardsByRunner = async (db: FreshDatabase) => {
  const rows = await query<{ address: string; n: string | number | bigint }>(
    db.url,
    `SELECT address, count(*) AS n FROM (${heldLocks}) held GROUP BY address`
  )
  return new Map(rows.map((r) => [r.address, Number(r.n)]))
}

/** Entity ids (session keys) of the stored messages whose shard `address` holds. */
export const sessionsOn = async (db: FreshDatabase, address: string) => {
  const rows = await query<{ entity_id: string }>(
    db.url,
    `SELECT DISTINCT m.entity_id FROM cluster_messages m JOIN (${heldLocks}) held
       ON held.shard = split_part(m.shard_id, ':', 2)::int
     WHERE held.address = '${address.replace(/'/g, "''")}'`
  )
  return new Set(rows.map((r) => r.entity_id))
}

/** Daemons with lines at level Warning or above in their log (what the bench prints, for the record). */
export const logProblems = (label: string, daemons: ReadonlyArray<Daemon>) => {
  for (const [i, d] of daemons.entries()) {
    const bad = d.lines.filter((l) => /"(level|logLevel)":"(warn|warning|error|fatal)"/i.test(l))
    const err = d.stderr.join("").trim()
    if (bad.length === 0 && err === "") continue
    process.stderr.write(`bench: ${label}, daemon ${i}: ${bad.length} warning/error log line(s)\n`)
    for (const l of bad.slice(0, 5)) process.stderr.write(`  ${l.slice(0, 600)}\n`)
    if (err !== "") process.stderr.write(`  stderr: ${err.slice(0, 600)}\n`)
  }
}

/** SIGTERM (a runner lets its shards go), SIGKILL if it has not exited within 15 s. */
const stopWithin = async (d: Daemon) => {
  const timer = setTimeout(() => d.process.kill("SIGKILL"), 15_000)
  await d.stop()
  clearTimeout(timer)
}

/**
 * `n` daemons on one fresh database, started together (the schema is created under a lock), then
 * `f`; every daemon is stopped, its state dir removed and the database dropped afterwards.
 */
export const withCluster = async <A>(
  label: string,
  n: number,
  env: Record<string, string>,
  f: (cluster: Cluster) => Promise<A>
): Promise<A> => {
  const db = await freshDatabase("switchboard_bench")
  const ports = await freePorts(n)
  const started = await Promise.allSettled(ports.map((port) =>
    startDaemon({
      timeoutMs: 30_000,
      env: {
        SWITCHBOARD_LOG_LEVEL: "Warn",
        ...env,
        SWITCHBOARD_CLUSTER_DATABASE_URL: db.url,
        SWITCHBOARD_CLUSTER_PORT: String(port),
        SWITCHBOARD_CLUSTER_SHARDS: String(SHARDS)
      }
    })
  ))
  const daemons = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []))
  try {
    const failed = started.find((s) => s.status === "rejected")
    if (failed) throw (failed as PromiseRejectedResult).reason
    const addresses = ports.map((p) => `127.0.0.1:${p}`)
    // Every shard held, by every runner, and the same split twice in a row half a second apart.
    let last = ""
    await eventually(async () => {
      const held = await shardsByRunner(db)
      const now = addresses.map((a) => held.get(a) ?? 0).join("/")
      const settled = addresses.every((a) => (held.get(a) ?? 0) > 0) &&
        [...held.values()].reduce((x, y) => x + y, 0) === SHARDS && now === last
      last = now
      return settled ? true : undefined
    }, 60_000, 500)
    return await f({ db, daemons, addresses })
  } finally {
    logProblems(label, daemons)
    await Promise.all(daemons.map(stopWithin))
    for (const d of daemons) rmSync(d.stateDir, { recursive: true, force: true })
    await db.drop()
  }
}
