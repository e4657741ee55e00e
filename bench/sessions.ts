// Sessions (issue 14): 100 chats in `per-chat` scope on the built daemon, a model that takes 200 ms
// per turn (the fake chat-completions server), one message per chat posted at once, all in one run:
// - messages per second with 1 and with 4 turns at once (SWITCHBOARD_MAX_CONCURRENT_TURNS) in one daemon;
// - the same with 1 and with 2 daemons in a cluster on the machine's Postgres, each allowed one turn
//   at a time so what the second daemon adds shows, the messages posted over both HTTP APIs;
// - failover: a kill -9 of one of two daemons mid-burst, a short shard lock expiration;
// - the cluster's cost per message: sequential round trips, echo model, a daemon without a cluster
//   vs a daemon that is a cluster's one runner.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { burst, clusterOverhead, failover, runnersThroughput } from "./cluster.ts"
import type { Figures } from "./core.ts"
import { logProblems } from "./clusterDaemons.ts"
import { startDaemon } from "../test/support/daemon.ts"
import { startFakeChatCompletions } from "../test/support/fakeChatCompletions.ts"

const CHATS = 100
const TURN_MS = 200
const LOCK_EXPIRATION = "4 seconds"
const KILL_AFTER = 25 // answered messages before the kill
const CLUSTER_ONE_TURN = "1"
const OVERHEAD_ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5) * 100
const fixed = (x: number, digits = 2) => Number(x.toFixed(digits))

const oneDaemon = async (concurrency: number, env: Record<string, string>) => {
  const daemon = await startDaemon({
    env: { ...env, SWITCHBOARD_MAX_CONCURRENT_TURNS: String(concurrency), SWITCHBOARD_LOG_LEVEL: "Warn" }
  })
  try {
    return await burst([daemon], CHATS)
  } finally {
    logProblems(`one daemon, ${concurrency} turn(s)`, [daemon])
    await daemon.stop()
    rmSync(daemon.stateDir, { recursive: true, force: true })
  }
}

export const runSessions = async (): Promise<Figures> => {
  const fake = await startFakeChatCompletions({ record: false })
  fake.setDefault({ text: "ok", delayMs: TURN_MS })
  const dir = mkdtempSync(join(tmpdir(), "switchboard-bench-sessions-"))
  const agentsFile = join(dir, "agents.json")
  writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "chat", scope: "per-chat", bindings: ["http:*"] }] }))
  const model = { SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: fake.url, SWITCHBOARD_AGENTS_FILE: agentsFile }
  const loadAtStart = loadavg()[0]!
  try {
    const one = await oneDaemon(1, model)
    const four = await oneDaemon(4, model)
    const runners = await runnersThroughput(CHATS, { ...model, SWITCHBOARD_MAX_CONCURRENT_TURNS: CLUSTER_ONE_TURN })
    const down = await failover(CHATS, KILL_AFTER, "chat", {
      ...model,
      SWITCHBOARD_MAX_CONCURRENT_TURNS: "4",
      SWITCHBOARD_CLUSTER_LOCK_EXPIRATION: LOCK_EXPIRATION
    })
    const cost = await clusterOverhead(OVERHEAD_ROUNDS)
    const ms = (x: number) => fixed(x, 1)
    return {
      [`messages/s, 1 turn at a time (${CHATS} chats, ${TURN_MS} ms per turn; ideal ${1000 / TURN_MS})`]: fixed(one),
      [`messages/s, 4 turns at once (ideal ${(4 * 1000) / TURN_MS})`]: fixed(four),
      "ratio 4 / 1 (ideal 4)": fixed(four / one),
      [`cluster, 1 daemon, 1 turn at a time (SWITCHBOARD_MAX_CONCURRENT_TURNS=${CLUSTER_ONE_TURN}): messages/s (ideal ${1000 / TURN_MS})`]:
        fixed(runners.one),
      [`cluster, 2 daemons, 1 turn at a time each, posted over both: messages/s (ideal ${2000 / TURN_MS})`]: fixed(runners.two),
      "cluster ratio 2 daemons / 1 (ideal 2)": fixed(runners.two / runners.one),
      [`failover: kill -9 of 1 of 2 daemons after ${KILL_AFTER} of ${CHATS} answered (SWITCHBOARD_MAX_CONCURRENT_TURNS=4 each; lock expiration ${LOCK_EXPIRATION}): unanswered at the kill / of them on the killed daemon`]:
        `${down.unansweredAtKill} / ${down.onKilledAtKill}`,
      "failover: kill → the survivor starts the first turn of a session the killed daemon held, s": fixed(down.firstStartMs / 1000),
      "failover: kill → that session's first answer read on the survivor, s": fixed(down.firstOfKilledMs / 1000),
      "failover: kill → every message answered, s": fixed(down.allMs / 1000),
      [`round trip, echo, ${OVERHEAD_ROUNDS} sequential: no cluster p50 / p95 ms`]: `${ms(cost.alone.p50)} / ${ms(cost.alone.p95)}`,
      "round trip, echo: 1-daemon cluster (same-machine Postgres) p50 / p95 ms": `${ms(cost.inCluster.p50)} / ${ms(cost.inCluster.p95)}`,
      "cluster overhead per message p50 / p95 ms": `${ms(cost.inCluster.p50 - cost.alone.p50)} / ${ms(cost.inCluster.p95 - cost.alone.p95)}`,
      "machine load average (1 min) at the start / end": `${loadAtStart.toFixed(1)} / ${loadavg()[0]!.toFixed(1)}`
    }
  } finally {
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
