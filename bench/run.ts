// `npm run bench`: prints a table per area and writes bench/results/latest.json.
// `npm run bench -- core agent` runs only the named areas.
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { agentBench } from "./agent.ts"
import { runChecks } from "./checks.ts"
import { type Figures, runCore } from "./core.ts"
import { runDashboard } from "./dashboard.ts"
import { runDurable } from "./durable.ts"
import { runHeartbeat } from "./heartbeat.ts"
import { runReal } from "./real.ts"
import { runRedis } from "./redis.ts"
import { runSessions } from "./sessions.ts"
import { runSlack } from "./slack.ts"
import { runTelegram } from "./telegram.ts"

const agent = async (): Promise<Figures> => {
  const out: Record<string, number | string> = {}
  for (const f of await agentBench()) {
    out[`${f.toolCalls} tool call(s): p50 / p95 ms beyond the model`] = `${f.p50Ms} / ${f.p95Ms}`
  }
  return out
}

const areas: Record<string, [string, () => Promise<Figures>]> = {
  core: ["core (HTTP round trips, echo provider, built daemon)", runCore],
  agent: ["agent (gateway overhead per turn around an instant fake model)", agent],
  heartbeat: ["heartbeat (wake to relay dispatch, tripwire jitter)", runHeartbeat],
  telegram: ["telegram (update → reply through the fake Bot API; render + chunk 100 KB)", runTelegram],
  checks: ["checks (1,000 http checks every 10 s for a minute: CPU per run, a person's round trip p99 vs no checks)", runChecks],
  slack: ["slack (event → reply through the fake Socket Mode server and Web API; render + chunk 100 KB)", runSlack],
  durable: ["durable (store on disk vs in memory, 10,000-message burst, bus round trip, recovery of 1,000 queued after kill -9)", runDurable],
  redis: ["redis (bus round trip XADD → switchboard:outbound, built daemon, own redis-server)", runRedis],
  sessions: ["sessions (100 chats per-chat, a 200 ms model: messages/s with 1 vs 4 turns at once and 1 vs 2 daemons in a cluster, failover after kill -9, the cluster's cost per message; built daemon, machine Postgres)", runSessions],
  dashboard: ["dashboard (built daemon, echo: RSS with 0 / 1 / 10 event clients, round trips with and without 10 clients, answer → delivery event)", runDashboard],
  real: ["real (openai over SSE, OTLP export, Telegram on; 0 / 300 / 1,000 turns; echo and a bare node:http floor)", runReal]
}

const wanted = process.argv.slice(2).filter((a) => a in areas)
const results: Record<string, Figures> = {}
for (const key of wanted.length > 0 ? wanted : Object.keys(areas)) {
  const [title, run] = areas[key]!
  process.stderr.write(`bench: ${title} …\n`)
  results[title] = await run()
  console.log(`\n${title}`)
  console.table(results[title])
}
const dir = join(import.meta.dirname, "results")
mkdirSync(dir, { recursive: true })
const file = join(dir, "latest.json")
writeFileSync(file, JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2))
console.log(`\nwritten to ${file}`)
