// The durable store's cost and its recovery, on the built daemon (echo provider unless said):
// - HTTP round trip (POST + long-poll GET) with the store on disk vs the same daemon with the store
//   in memory (bench/memoryDaemon.ts), alternating one by one in one run: the ratio is what the disk costs;
// - accept rate of a 10,000-message burst (every POST answered 202, committed first);
// - the bus round trip XADD → switchboard:outbound (a redis-server of its own), p50 / p99;
// - time from a restart to the first recovered reply with 1,000 messages queued at a kill -9.
import { rmSync } from "node:fs"
import { loadavg } from "node:os"
import { join } from "node:path"
import { build } from "esbuild"
import { type Figures, percentile, roundTrip } from "./core.ts"
import { busRoundTrips, withBus } from "./redis.ts"
import { type Daemon, eventually, ROOT, startDaemon } from "../test/support/daemon.ts"
import { startFakeChatCompletions } from "../test/support/fakeChatCompletions.ts"

const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 5)
const PER_ROUND = 200 // round trips per round on each daemon
const quiet = { SWITCHBOARD_LOG_LEVEL: "Warn" }
const median = (xs: ReadonlyArray<number>) => percentile([...xs].sort((a, b) => a - b), 50)

const buildMemoryDaemon = async () => {
  const outfile = join(ROOT, "dist", "bench-memory-daemon.js")
  await build({
    entryPoints: [join(ROOT, "bench", "memoryDaemon.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    logLevel: "warning",
    external: ["grammy", "@grammyjs/*", "ioredis", "ws", "zlib-sync", "@slack/*"],
    alias: { "@discordjs/rest": "./node_modules/@discordjs/rest/dist/web.mjs" },
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
  })
  return outfile
}

const timed = async (d: Daemon, i: number) => {
  const t0 = performance.now()
  await roundTrip(d, i)
  return performance.now() - t0
}

/** Sequential round trips, alternating between the two daemons one by one, so load on the machine hits both alike. */
const storeVsMemory = async (memoryMain: string) => {
  const onDisk = await startDaemon({ env: quiet })
  const inMemory = await startDaemon({ env: quiet, command: { file: process.execPath, args: [memoryMain] } })
  try {
    for (const d of [onDisk, inMemory]) for (let i = 0; i < 100; i++) await roundTrip(d, i) // warm-up
    const disk: Array<number> = []
    const memory: Array<number> = []
    for (let i = 0; i < ROUNDS * PER_ROUND; i++) {
      disk.push(await timed(onDisk, 1000 + i))
      memory.push(await timed(inMemory, 1000 + i))
    }
    return { disk: median(disk), memory: median(memory) }
  } finally {
    await onDisk.stop()
    await inMemory.stop()
    rmSync(onDisk.stateDir, { recursive: true, force: true })
    rmSync(inMemory.stateDir, { recursive: true, force: true })
  }
}

/** 10,000 POSTs, 64 at a time: how many are accepted (committed, 202) per second. */
export const burstFor = async (command?: { readonly file: string; readonly args: ReadonlyArray<string> }) => {
  const total = 10_000
  const d = await startDaemon({ env: { ...quiet, SWITCHBOARD_QUEUE_CAP: "20000" }, ...(command ? { command } : {}) })
  try {
    let next = 0
    let accepted = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < total) {
        const i = next++
        const r = await d.post("/v1/messages", { text: `b${i}`, source: "http:burst", id: `b${i}` })
        if (r.status === 202) accepted++
      }
    }))
    const s = (performance.now() - t0) / 1000
    return { accepted, perSecond: Math.round(accepted / s) }
  } finally {
    await d.stop()
    rmSync(d.stateDir, { recursive: true, force: true })
  }
}

const busRoundTrip = () =>
  withBus({}, async (_bus, roundTrip) => {
    const times = await busRoundTrips((i) => roundTrip(i, "d"), 1000)
    return { p50: percentile(times, 50), p99: percentile(times, 99) }
  })

/** 1,000 queued behind a model that does not answer, kill -9, restart with one that answers at once. */
const recovery = async () => {
  const queued = 1000
  const model = await startFakeChatCompletions({ record: false })
  const state = { stalled: true }
  model.setDefault(() => (state.stalled ? { stall: true } : { text: "recovered" }))
  const env = { ...quiet, SWITCHBOARD_MODEL_PROVIDER: "openai", OPENAI_BASE_URL: model.url, SWITCHBOARD_MODEL: "m", SWITCHBOARD_QUEUE_CAP: "2000" }
  const first = await startDaemon({ env })
  try {
    for (let i = 0; i < queued; i++) {
      const r = await first.post("/v1/messages", { text: `q${i}`, source: "http:recover", id: `q${i}` })
      if (r.status !== 202) throw new Error(`message ${i}: ${r.status}`)
    }
    await first.stop("SIGKILL")
    state.stalled = false
    const t0 = performance.now()
    const second = await startDaemon({ env, stateDir: first.stateDir })
    try {
      const listening = performance.now() - t0
      // The turn cut off by the kill (q0) runs again first.
      const firstReply = await second.json(`/v1/messages/${encodeURIComponent("http:recover~q0")}?wait=30`)
      if (firstReply.body.status !== "done") throw new Error(`q0 ended ${firstReply.body.status}`)
      const firstMs = performance.now() - t0
      await eventually(async () => ((await second.json("/status")).body.queue.depth === 0 ? true : undefined), 300_000, 100)
      return { listening, firstMs, allMs: performance.now() - t0 }
    } finally {
      await second.stop()
    }
  } finally {
    await first.stop()
    await model.close()
    rmSync(first.stateDir, { recursive: true, force: true })
  }
}

export const runDurable = async (): Promise<Figures> => {
  const memoryMain = await buildMemoryDaemon()
  const rt = await storeVsMemory(memoryMain)
  const b = await burstFor()
  const bm = await burstFor({ file: process.execPath, args: [memoryMain] })
  const bus = await busRoundTrip()
  const r = await recovery()
  return {
    "machine load (1 min) at the end": +loadavg()[0]!.toFixed(1),
    "HTTP round trip p50 ms, store on disk / in memory (same run, interleaved)": `${rt.disk.toFixed(2)} / ${rt.memory.toFixed(2)}`,
    "ratio disk / memory (goal ≤ 1.3)": +(rt.disk / rt.memory).toFixed(2),
    "burst of 10,000 POSTs (64 at a time): accepted": b.accepted,
    "burst: accepted per second, store on disk / in memory": `${b.perSecond} / ${bm.perSecond}`,
    "bus round trip XADD → switchboard:outbound p50 / p99 ms (goal p50 ≤ 3)": `${bus.p50.toFixed(2)} / ${bus.p99.toFixed(2)}`,
    "restart with 1,000 queued: listening / first recovered reply / all answered, ms": `${Math.round(r.listening)} / ${Math.round(r.firstMs)} / ${Math.round(r.allMs)}`
  }
}
