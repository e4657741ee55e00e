// The cluster's figures in the sessions bench (issue 14, part 2), on the built daemon and the
// machine's Postgres: messages/s with 1 vs 2 runners, the stall after a kill -9 of one runner
// mid-burst, and what a cluster adds to one message's round trip over a daemon without one.
import { rmSync } from "node:fs"
import { percentile, roundTrip } from "./core.ts"
import { sessionsOn, withCluster } from "./clusterDaemons.ts"
import { type Daemon, eventually, startDaemon } from "../test/support/daemon.ts"
import type { ClusterDaemon, TestCluster } from "../test/support/cluster.ts"
import { query } from "../test/support/postgres.ts"

export interface Posted {
  readonly id: string
  readonly source: string
}

/** One message per chat, posted at once, spread over the daemons' HTTP APIs in turn. */
export const postBurst = (daemons: ReadonlyArray<Daemon>, chats: number) =>
  Promise.all(Array.from({ length: chats }, async (_, i): Promise<Posted> => {
    const source = `http:chat${i}`
    const r = await daemons[i % daemons.length]!.post<{ id: string }>("/v1/messages", { text: `hello ${i}`, source })
    if (r.status !== 202) throw new Error(`POST answered ${r.status}: ${JSON.stringify(r.body)}`)
    return { id: r.body.id, source }
  }))

/** Resolves once `id` is answered, read on `daemon` (any daemon of a cluster answers for any id). */
export const answered = (daemon: Daemon, id: string, timeoutMs = 120_000) =>
  eventually(async () => {
    const r = await daemon.json<{ status: string }>(`/v1/messages/${encodeURIComponent(id)}?wait=30`)
    if (r.body?.status === "failed") throw new Error(`${id} failed`)
    return r.body?.status === "done" ? true : undefined
  }, timeoutMs)

/** Messages per second for a burst of one message per chat, each read back where it was posted. */
export const burst = async (daemons: ReadonlyArray<Daemon>, chats: number) => {
  const t0 = performance.now()
  const posted = await postBurst(daemons, chats)
  await Promise.all(posted.map((p, i) => answered(daemons[i % daemons.length]!, p.id)))
  return chats / ((performance.now() - t0) / 1000)
}

/** Messages/s of one runner and of two, each allowed one turn at a time. */
export const runnersThroughput = async (chats: number, env: Record<string, string>) => {
  const one = await withCluster("1 runner", 1, env, (c) => burst(c.daemons, chats))
  const two = await withCluster("2 runners", 2, env, (c) => burst(c.daemons, chats))
  return { one, two }
}

export interface Failover {
  readonly unansweredAtKill: number
  readonly onKilledAtKill: number
  readonly allMs: number
  readonly firstOfKilledMs: number
  /** From the kill to the survivor starting the first of those turns (its record in Postgres). */
  readonly firstStartMs: number
}

/**
 * Two runners, a burst over both; once `killAfter` messages are answered the second daemon is
 * killed with SIGKILL. Every answer is read on the survivor, its time taken as it arrives. Sessions
 * are `<agent>/<source>` (per-chat scope).
 */
export const failover = (chats: number, killAfter: number, agent: string, env: Record<string, string>) =>
  withCluster("failover", 2, env, async ({ daemons, db }: TestCluster): Promise<Failover> => {
    const [survivor, victim] = daemons as [ClusterDaemon, ClusterDaemon]
    const posted = await postBurst(daemons, chats)
    const answeredAt = new Map<string, number>()
    let reached: () => void = () => {}
    const enough = new Promise<void>((resolve) => (reached = resolve))
    const all = Promise.all(posted.map((p) =>
      answered(survivor, p.id).then(() => {
        answeredAt.set(p.id, performance.now())
        if (answeredAt.size >= killAfter) reached()
      })
    ))
    await enough
    // Which sessions the victim holds, read just before it dies.
    const victimSessions = await sessionsOn(db, victim.runner)
    const killedAt = performance.now()
    const killedAtWall = Date.now()
    await victim.kill9()
    await all
    // Open at the kill: finished (by the runner, in Postgres) after it; the survivor may not have read
    // back what was answered just before. The killed daemon's sessions' first answer is taken among
    // the turns started after the kill, so on the survivor: a kill -9 lands a few ms after the call,
    // and a turn the victim finished in those ms is not the failover.
    const records = await query<{ id: string; started_at: number; finished_at: number }>(
      db.url,
      "SELECT id, started_at, finished_at FROM switchboard_requests"
    )
    const record = new Map(records.map((r) => [r.id, { started: Number(r.started_at), finished: Number(r.finished_at) }]))
    const open = posted.filter((p) => record.get(p.id)!.finished > killedAtWall)
    const onKilled = open.filter((p) => victimSessions.has(`${agent}/${p.source}`))
    const rerun = onKilled.filter((p) => record.get(p.id)!.started > killedAtWall)
    if (rerun.length === 0) throw new Error(`no turn of the killed runner's sessions ran after the kill (its sessions: ${[...victimSessions].join(", ")})`)
    const after = (ps: ReadonlyArray<Posted>) => ps.map((p) => answeredAt.get(p.id)! - killedAt)
    return {
      unansweredAtKill: open.length,
      onKilledAtKill: onKilled.length,
      allMs: Math.max(...after(open)),
      firstOfKilledMs: Math.min(...after(rerun)),
      firstStartMs: Math.min(...rerun.map((p) => record.get(p.id)!.started)) - killedAtWall
    }
  })

const timed = async (d: Daemon, i: number) => {
  const t0 = performance.now()
  await roundTrip(d, i)
  return performance.now() - t0
}

/**
 * Sequential round trips (POST, then GET ?wait) with the echo model: a daemon without a cluster and
 * a daemon that is the one runner of a cluster, alternating one by one so machine load hits both alike.
 */
export const clusterOverhead = async (rounds: number) => {
  const plain = await startDaemon({ env: { SWITCHBOARD_LOG_LEVEL: "Warn" } })
  try {
    return await withCluster("overhead", 1, {}, async ({ daemons: [clustered] }) => {
      for (const d of [plain, clustered!]) for (let i = 0; i < 50; i++) await roundTrip(d, i) // warm-up
      const alone: Array<number> = []
      const inCluster: Array<number> = []
      for (let i = 0; i < rounds; i++) {
        alone.push(await timed(plain, 1000 + i))
        inCluster.push(await timed(clustered!, 1000 + i))
      }
      const stats = (xs: Array<number>) => {
        xs.sort((a, b) => a - b)
        return { p50: percentile(xs, 50), p95: percentile(xs, 95) }
      }
      return { alone: stats(alone), inCluster: stats(inCluster) }
    })
  } finally {
    await plain.stop()
    rmSync(plain.stateDir, { recursive: true, force: true })
  }
}
