// Built daemons as runners of one cluster for the sessions bench, on test/support/cluster.ts (a
// fresh Postgres database each time, a cluster port and state dir per daemon), with the shard count
// and lock expiration people run (300, 35 s unless the env says otherwise), and a wait until the
// split of shards over the runners stops moving, so a figure measures the cluster at work and not
// its start-up rebalancing.
import { eventually } from "../test/support/daemon.ts"
import { type FreshDatabase, query } from "../test/support/postgres.ts"
import { startCluster, type TestCluster } from "../test/support/cluster.ts"

const SHARDS = 300

/**
 * Entity ids (session keys) of the stored messages whose shard the runner `address` holds. On
 * Postgres effect/cluster holds a shard as a session advisory lock, key (namespace, 1000000 + shard
 * number) for the default group, on a connection named `switchboard <host>:<port>`.
 */
export const sessionsOn = async (db: FreshDatabase, address: string) => {
  const rows = await query<{ entity_id: string }>(
    db.url,
    `SELECT DISTINCT m.entity_id FROM cluster_messages m
       JOIN pg_locks l ON l.objid::int - 1000000 = split_part(m.shard_id, ':', 2)::int
       JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND a.datname = current_database()
       AND a.application_name = 'switchboard ${address.replace(/'/g, "''")}'`
  )
  return new Set(rows.map((r) => r.entity_id))
}

/** Lines at level Warning or above in the daemons' logs, and their stderr (printed, for the record). */
export const logProblems = (label: string, daemons: ReadonlyArray<{ lines: Array<string>; stderr: Array<string> }>) => {
  for (const [i, d] of daemons.entries()) {
    const bad = d.lines.filter((l) => /"(level|logLevel)":"(warn|warning|error|fatal)"/i.test(l))
    const err = d.stderr.join("").trim()
    if (bad.length === 0 && err === "") continue
    process.stderr.write(`bench: ${label}, daemon ${i}: ${bad.length} warning/error log line(s)\n`)
    for (const l of bad.slice(0, 5)) process.stderr.write(`  ${l.slice(0, 600)}\n`)
    if (err !== "") process.stderr.write(`  stderr: ${err.slice(0, 600)}\n`)
  }
}

/** `n` daemons on one fresh database, settled, then `f`; all killed and the database dropped afterwards. */
export const withCluster = async <A>(
  label: string,
  n: number,
  env: Record<string, string>,
  f: (cluster: TestCluster) => Promise<A>
): Promise<A> => {
  const cluster = await startCluster({
    daemons: n,
    shards: SHARDS,
    lockExpiration: "35 seconds",
    env: { SWITCHBOARD_LOG_LEVEL: "Warn", ...env }
  })
  try {
    await cluster.settled(60_000)
    // The same split twice in a row half a second apart: no shard still on its way to a runner.
    let last = ""
    await eventually(async () => {
      const now = JSON.stringify(await cluster.shardLocks())
      const same = now === last
      last = now
      return same ? true : undefined
    }, 60_000, 500)
    return await f(cluster)
  } finally {
    logProblems(label, cluster.daemons)
    await cluster.dispose()
  }
}
