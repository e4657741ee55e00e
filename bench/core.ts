// Core benchmarks against the built daemon (echo provider, loopback): per-message overhead,
// a burst, cold start, memory.
import { readFileSync } from "node:fs"
import { type Daemon, startDaemon } from "../test/support/daemon.ts"

export interface Figures {
  /** A figure, or a row of figures by column (printed as a table). */
  readonly [name: string]: number | string | Readonly<Record<string, number | string>>
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

export const rssMb = (pid: number, field: "VmRSS" | "VmHWM") => {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

/** One message, answered: POST then GET ?wait until done. */
export const roundTrip = async (d: Daemon, i: number) => {
  const posted = await d.post("/v1/messages", { text: `m${i}`, source: `http:bench` })
  const done = await d.json(`/v1/messages/${posted.body.id}?wait=30`)
  if (done.body.status !== "done") throw new Error(`message ${i} ended ${done.body.status}`)
}

export const coldStart = async (): Promise<number> => {
  const t0 = performance.now()
  const d = await startDaemon()
  for (;;) {
    const h = await d.json("/health")
    if (h.status === 200) break
  }
  const ms = performance.now() - t0
  await d.stop()
  return ms
}

export const runCore = async (): Promise<Figures> => {
  const cold = [] as Array<number>
  for (let i = 0; i < 3; i++) cold.push(await coldStart())
  const daemon = await startDaemon({
    // The burst long-polls 1,000 answers at once: above the default cap of 256 waiters.
    env: { SWITCHBOARD_LOG_LEVEL: "Warn", SWITCHBOARD_HTTP_MAX_WAITERS: "2048", SWITCHBOARD_HTTP_MAX_CONNECTIONS: "4096" }
  })
  try {
    for (let i = 0; i < 50; i++) await roundTrip(daemon, i) // warm-up
    // Idle means idle: give the daemon a few quiet seconds (its GC runs) before reading RSS.
    await new Promise((r) => setTimeout(r, 5000))
    const idleRss = rssMb(daemon.process.pid!, "VmRSS")
    const times: Array<number> = []
    for (let i = 0; i < 1000; i++) {
      const t0 = performance.now()
      await roundTrip(daemon, i)
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)

    const t0 = performance.now()
    await Promise.all(Array.from({ length: 1000 }, (_, i) => roundTrip(daemon, 10_000 + i)))
    const burstMs = performance.now() - t0
    const status = await daemon.json("/status")
    return {
      "overhead p50 ms (POST + wait, sequential)": +percentile(times, 50).toFixed(2),
      "overhead p95 ms": +percentile(times, 95).toFixed(2),
      "overhead p99 ms": +percentile(times, 99).toFixed(2),
      "burst of 1000 concurrent: all answered ms": Math.round(burstMs),
      "burst lost messages": 1000 + 1050 - Number(status.body.counters.turns),
      "cold start to passing /health ms (best of 3)": Math.round(Math.min(...cold)),
      "idle RSS MB": idleRss,
      "peak RSS MB": rssMb(daemon.process.pid!, "VmHWM")
    }
  } finally {
    await daemon.stop()
  }
}
