// The dashboard's cost on the built daemon (echo provider): memory with no, one and ten event
// clients; a person's round trip with and without ten clients watching (interleaved rounds); and
// how long after a message is answered its `delivery` event reaches a client.
import { type Daemon, startDaemon } from "../test/support/daemon.ts"
import { connectSse } from "../test/support/sse.ts"
import { type Figures, percentile, roundTrip, rssMb } from "./core.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const roundTrips = async (d: Daemon, n: number, offset: number) => {
  const times: Array<number> = []
  for (let i = 0; i < n; i++) {
    const t0 = performance.now()
    await roundTrip(d, offset + i)
    times.push(performance.now() - t0)
  }
  return times
}

const ms = (sorted: ReadonlyArray<number>, p: number) => percentile(sorted, p).toFixed(2)

export const runDashboard = async (): Promise<Figures> => {
  const daemon = await startDaemon({ env: { SWITCHBOARD_LOG_LEVEL: "Warn" } })
  try {
    for (let i = 0; i < 50; i++) await roundTrip(daemon, i) // warm-up
    await sleep(5000)
    const idle = rssMb(daemon.process.pid!, "VmRSS")
    const one = await connectSse(`${daemon.url}/v1/events`)
    await one.next(() => true, "snapshot")
    await sleep(5000)
    const withOne = rssMb(daemon.process.pid!, "VmRSS")
    const more = await Promise.all(Array.from({ length: 9 }, () => connectSse(`${daemon.url}/v1/events`)))
    await Promise.all(more.map((c) => c.next(() => true, "snapshot")))
    await sleep(5000)
    const withTen = rssMb(daemon.process.pid!, "VmRSS")
    for (const c of more) c.close()

    // Interleaved: 5 rounds of 200 round trips each without and with the ten clients.
    const without: Array<number> = []
    const watched: Array<number> = []
    for (let round = 0; round < 5; round++) {
      without.push(...await roundTrips(daemon, 200, 100_000 + round * 1000))
      const ten = await Promise.all(Array.from({ length: 10 }, () => connectSse(`${daemon.url}/v1/events`)))
      await Promise.all(ten.map((c) => c.next(() => true, "snapshot")))
      watched.push(...await roundTrips(daemon, 200, 200_000 + round * 1000))
      for (const c of ten) c.close()
    }
    without.sort((a, b) => a - b)
    watched.sort((a, b) => a - b)

    // Answered → its delivery event at a client.
    const lags: Array<number> = []
    for (let i = 0; i < 200; i++) {
      const posted = await daemon.post<{ id: string }>("/v1/messages", { text: `lag${i}`, source: "http:lag" })
      const done = await daemon.json(`/v1/messages/${posted.body.id}?wait=30`)
      const answeredAt = performance.now()
      if (done.body.status !== "done") throw new Error(`lag${i} ended ${done.body.status}`)
      await one.next((e) => e.type === "delivery" && e.data.requestId === posted.body.id, `delivery of lag${i}`)
      lags.push(performance.now() - answeredAt)
    }
    lags.sort((a, b) => a - b)
    one.close()
    return {
      "idle RSS MB: no client / 1 / 10 event clients": `${idle} / ${withOne} / ${withTen}`,
      "round trip p50 / p99 ms, no client (1,000, interleaved)": `${ms(without, 50)} / ${ms(without, 99)}`,
      "round trip p50 / p99 ms, 10 clients watching": `${ms(watched, 50)} / ${ms(watched, 99)}`,
      "reply answered → its delivery event at a client, p50 / p99 ms": `${ms(lags, 50)} / ${ms(lags, 99)}`
    }
  } finally {
    await daemon.stop()
  }
}
