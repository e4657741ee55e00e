// `npm run bench -- real`: the daemon as people run it — the openai provider against a fake
// chat-completions server answering at once over SSE, traces exported over OTLP to a local sink,
// Telegram polling a fake Bot API — with the conversation grown to 0 / 300 / 1,000 turns; in the
// same run the echo daemon (tracing and Telegram off) and the floor: a minimal node:http server of
// the same HTTP contract (bench/floor.mjs). Every variant is started fresh in each round and the
// rounds interleave, so a busy machine slows all of them alike; figures are medians over rounds and
// ratios are taken within a round. Writes bench/results/real.json (every sample).
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Schema, Scope } from "effect"
import { Prompt } from "effect/ai"
import { userTurnText } from "../src/agent/prompt.ts"
import { type Daemon, ROOT, type StartOptions, startDaemon } from "../test/support/daemon.ts"
import { FAKE_TOKEN, fakeBotApi } from "../test/support/fakeBotApi.ts"
import { startFakeChatCompletions } from "../test/support/fakeChatCompletions.ts"
import { startFakeOtlp } from "../test/support/fakeOtlp.ts"
import { type Figures, percentile, roundTrip, rssMb } from "./core.ts"

const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)
const WARMUP = 30
const SEQUENTIAL = 200
const BURST = 300
const IDLE_MS = 5000
/** The fake model's answer to every turn (streamed in 8-character chunks). */
const REPLY = "Noted. I will keep that in mind for later."
const CHAT_ID = 111
/**
 * The daemon as the systemd unit runs it: its NODE_OPTIONS (V8's heap cap and young generation),
 * read from docs/deploy/systemd/switchboard.service so the two cannot drift apart.
 */
const UNIT_NODE_OPTIONS = /^Environment="?NODE_OPTIONS=([^"\n]*)"?$/m.exec(
  readFileSync(join(import.meta.dirname, "..", "docs", "deploy", "systemd", "switchboard.service"), "utf8")
)?.[1] ?? ""
/** The burst long-polls 300 answers at once: above the default cap of 256 waiters. */
const LIMITS = {
  SWITCHBOARD_HTTP_MAX_WAITERS: "1024",
  SWITCHBOARD_HTTP_MAX_CONNECTIONS: "2048",
  NODE_OPTIONS: UNIT_NODE_OPTIONS
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const median = (xs: ReadonlyArray<number>) => percentile([...xs].sort((a, b) => a - b), 50)
const round = (n: number, digits = 2) => Number.isFinite(n) ? +n.toFixed(digits) : NaN

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
/** User + system CPU time of a process so far (ms). */
const cpuMs = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS
}

/** A conversation of `turns` user/assistant pairs shaped like the ones the agent remembers. */
const prefill = (stateDir: string, turns: number) => {
  const dir = join(stateDir, "conversations")
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "current"), "bench")
  const encode = Schema.encodeSync(Prompt.Message)
  const line = (role: "user" | "assistant", text: string) =>
    JSON.stringify({ t: "msg", m: encode(Prompt.makeMessage(role, { content: [Prompt.makePart("text", { text })] })) })
  const lines: Array<string> = []
  for (let i = 0; i < turns; i++) {
    lines.push(line("user", userTurnText({ id: `p${i}`, source: "http:bench", text: `m${i}`, priority: "human", receivedAt: 0 })))
    lines.push(line("assistant", REPLY))
  }
  writeFileSync(join(dir, "bench.jsonl"), lines.length === 0 ? "" : lines.join("\n") + "\n")
}

const untilHealthy = async (d: Daemon) => {
  for (;;) {
    const h = await d.fetch("/health").catch(() => undefined)
    if (h !== undefined) {
      await h.arrayBuffer()
      if (h.status === 200) return
    }
    await sleep(2)
  }
}

/** Start, and the time from spawn to a passing /health. */
const startTimed = async (options: StartOptions) => {
  const t0 = performance.now()
  const daemon = await startDaemon(options)
  await untilHealthy(daemon)
  return { daemon, coldMs: performance.now() - t0 }
}

interface Sample {
  readonly coldMs: number
  readonly idleRssMb: number
  readonly cpuMsPerTurn: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly burstMs: number
  readonly peakRssMb: number
  readonly spansPerTurn?: number
  readonly otlpBytesPerTurn?: number
}

const measure = async (options: StartOptions, otlp?: Awaited<ReturnType<typeof startFakeOtlp>>): Promise<Sample> => {
  const spans0 = otlp?.spans.length ?? 0
  const bytes0 = otlp?.received.bytes ?? 0
  const { coldMs, daemon } = await startTimed(options)
  const pid = daemon.process.pid!
  try {
    let n = 0
    for (let i = 0; i < WARMUP; i++) await roundTrip(daemon, n++)
    await sleep(IDLE_MS) // idle means idle: a few quiet seconds, its GC runs
    const idleRssMb = rssMb(pid, "VmRSS")
    const cpu0 = cpuMs(pid)
    const times: Array<number> = []
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t0 = performance.now()
      await roundTrip(daemon, n++)
      times.push(performance.now() - t0)
    }
    const cpuMsPerTurn = (cpuMs(pid) - cpu0) / SEQUENTIAL
    times.sort((a, b) => a - b)
    const t0 = performance.now()
    await Promise.all(Array.from({ length: BURST }, () => roundTrip(daemon, n++)))
    const burstMs = performance.now() - t0
    const peakRssMb = rssMb(pid, "VmHWM")
    const turns = WARMUP + SEQUENTIAL + BURST
    const code = await daemon.stop() // flushes the span exporter
    if (code !== 0) throw new Error(`daemon exited ${code}: ${daemon.stderr.join("")}`)
    return {
      coldMs,
      idleRssMb,
      cpuMsPerTurn,
      p50Ms: percentile(times, 50),
      p99Ms: percentile(times, 99),
      burstMs,
      peakRssMb,
      ...(otlp !== undefined
        ? { spansPerTurn: (otlp.spans.length - spans0) / turns, otlpBytesPerTurn: (otlp.received.bytes - bytes0) / turns }
        : {})
    }
  } finally {
    await daemon.stop()
    rmSync(daemon.stateDir, { recursive: true, force: true })
  }
}

/** Cold start through `npm start` (npm, the prestart build check, then node dist/main.js). */
const npmColdStart = async (env: Record<string, string>) => {
  const { daemon, coldMs } = await startTimed({ env, command: { file: "npm", args: ["start"] } })
  // npm passes SIGTERM on to the daemon; the daemon's own pid is in daemon.json (written just
  // after it listens, so it may trail the first passing /health by a moment).
  const file = join(daemon.stateDir, "daemon.json")
  while (!existsSync(file)) await sleep(5)
  const info = JSON.parse(readFileSync(file, "utf8")) as { pid: number }
  await daemon.stop()
  try {
    process.kill(info.pid, "SIGTERM")
  } catch {
    // already gone, as it should be
  }
  rmSync(daemon.stateDir, { recursive: true, force: true })
  return coldMs
}

export const runReal = async (): Promise<Figures> => {
  const scope = await Effect.runPromise(Scope.make())
  const bot = await Effect.runPromise(Scope.provide(scope)(fakeBotApi))
  const model = await startFakeChatCompletions({ record: false })
  model.setDefault({ text: REPLY })
  const otlp = await startFakeOtlp()
  const realEnv: Record<string, string> = {
    ...LIMITS,
    SWITCHBOARD_MODEL_PROVIDER: "openai",
    SWITCHBOARD_MODEL: "bench-model",
    OPENAI_BASE_URL: model.url,
    OPENAI_API_KEY: "sk-bench",
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    TELEGRAM_BOT_TOKEN: FAKE_TOKEN,
    TELEGRAM_API_ROOT: bot.url,
    TELEGRAM_ALLOWED_CHAT_IDS: String(CHAT_ID),
    // 1,000 turns and what the run adds must stay uncompacted: the figure is about a long history.
    SWITCHBOARD_TOKEN_BUDGET: "10000000"
  }
  const grown = (turns: number): StartOptions => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"))
    prefill(stateDir, turns)
    return { env: realEnv, stateDir }
  }
  const variants: Record<string, () => { options: StartOptions; traced: boolean }> = {
    floor: () => ({ options: { command: { file: process.execPath, args: [join(ROOT, "bench", "floor.mjs")] } }, traced: false }),
    echo: () => ({ options: { env: LIMITS }, traced: false }),
    "real 0": () => ({ options: grown(0), traced: true }),
    "real 300": () => ({ options: grown(300), traced: true }),
    "real 1000": () => ({ options: grown(1000), traced: true })
  }
  const samples: Record<string, Array<Sample>> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]))
  const npmCold: Array<number> = []
  try {
    for (let r = 0; r < ROUNDS; r++) {
      for (const [name, make] of Object.entries(variants)) {
        process.stderr.write(`bench real: round ${r + 1}/${ROUNDS}, ${name} …\n`)
        const { options, traced } = make()
        samples[name]!.push(await measure(options, traced ? otlp : undefined))
      }
      npmCold.push(await npmColdStart(realEnv))
    }
  } finally {
    await otlp.close()
    await model.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }

  const names = Object.keys(variants)
  const row = (f: (s: Sample) => number | undefined, digits = 2) =>
    Object.fromEntries(names.flatMap((n) => {
      const xs = samples[n]!.map(f).filter((x): x is number => x !== undefined)
      return xs.length === 0 ? [] : [[n, round(median(xs), digits)]]
    }))
  /** Median over rounds of `variant`'s figure ÷ `base`'s figure in the same round. */
  const ratio = (variant: string, base: string, f: (s: Sample) => number) =>
    round(median(samples[variant]!.map((s, i) => f(s) / f(samples[base]![i]!))))
  const real = ["real 0", "real 300", "real 1000"]
  const ratios = (base: string, f: (s: Sample) => number, target: string) => ({
    ...Object.fromEntries(real.map((n) => [n, ratio(n, base, f)])),
    target
  })

  const figures = {
    "CPU per turn ms": row((s) => s.cpuMsPerTurn),
    "round trip p50 ms (200 sequential)": row((s) => s.p50Ms),
    "round trip p99 ms": row((s) => s.p99Ms),
    "300-message burst, all answered ms": row((s) => s.burstMs, 0),
    "peak RSS MB": row((s) => s.peakRssMb, 0),
    "idle RSS MB": row((s) => s.idleRssMb, 0),
    "cold start to passing /health ms (node)": row((s) => s.coldMs, 0),
    "spans exported per turn": row((s) => s.spansPerTurn, 1),
    "OTLP bytes exported per turn": row((s) => s.otlpBytesPerTurn, 0),
    "÷ echo: CPU per turn": ratios("echo", (s) => s.cpuMsPerTurn, "≤ 1.3"),
    "÷ floor: round trip p50": ratios("floor", (s) => s.p50Ms, "≤ 1.3"),
    "÷ floor: round trip p99": ratios("floor", (s) => s.p99Ms, "≤ 2"),
    "÷ floor: burst": ratios("floor", (s) => s.burstMs, "≤ 1.5"),
    "÷ floor: cold start (node)": ratios("floor", (s) => s.coldMs, "≤ 2"),
    "÷ real 0: CPU per turn": {
      "real 300": ratio("real 300", "real 0", (s) => s.cpuMsPerTurn),
      "real 1000": ratio("real 1000", "real 0", (s) => s.cpuMsPerTurn),
      target: "≤ 1.2 at 1000"
    },
    "cold start via npm start ms": { "real 0": round(median(npmCold), 0), target: "≤ 600" }
  }
  const dir = join(import.meta.dirname, "results")
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, "real.json"),
    JSON.stringify({ at: new Date().toISOString(), node: process.version, rounds: ROUNDS, figures, samples, npmCold }, null, 2)
  )
  return figures
}

// `node bench/real.ts` runs it alone (after `npm run build`).
if (import.meta.main) console.table(await runReal())
