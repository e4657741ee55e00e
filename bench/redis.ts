// The Redis bus against the built daemon (echo provider) and a redis-server of its own on a free
// port: XADD to switchboard:inbound → the reply read from switchboard:outbound, one at a time, and
// a burst of entries published at once.
import { type Figures, percentile } from "./core.ts"
import { type Daemon, eventually, startDaemon } from "../test/support/daemon.ts"
import { type Bus, connectBus, redisServer } from "../test/support/redis.ts"

const OUTBOUND = "switchboard:outbound"

/** The bus on a redis-server of its own and a built daemon (echo), for `run`; all stopped after it. */
export const withBus = async <A>(
  env: Record<string, string>,
  run: (bus: Bus, roundTrip: (i: number, prefix?: string) => Promise<number>, daemon: Daemon) => Promise<A>
): Promise<A> => {
  const server = await redisServer()
  await server.start()
  const daemon = await startDaemon({ env: { REDIS_URL: server.url(0), SWITCHBOARD_LOG_LEVEL: "Warn", ...env } })
  const bus = await connectBus(server.url(0), { flush: false })
  const reader = bus.redis.duplicate()
  try {
    await eventually(async () => ((await daemon.json("/health")).body.checks.redis?.status === "pass" ? true : undefined))
    let last = "0-0"
    /** Publish one message and wait for its reply on the outbound stream (ms). */
    const roundTrip = async (i: number, prefix = "b") => {
      const t0 = performance.now()
      await bus.publish({ type: "message", source: "redis:bench", text: `m${i}`, id: `${prefix}-${i}` })
      for (;;) {
        const res = (await reader.xread("BLOCK", 10_000, "STREAMS", OUTBOUND, last)) as
          | Array<[string, Array<[string, Array<string>]>]>
          | null
        if (res === null) throw new Error(`no reply to m${i} within 10 s`)
        const entries = res[0]![1]
        last = entries[entries.length - 1]![0]
        if (entries.some(([, f]) => f.includes(`redis:bench~${prefix}-${i}`))) return performance.now() - t0
      }
    }
    return await run(bus, roundTrip, daemon)
  } finally {
    reader.disconnect()
    await bus.close()
    await daemon.stop()
    await server.dispose()
  }
}

/** 100 warm-up round trips, then `n` measured; sorted, in ms. */
export const busRoundTrips = async (roundTrip: (i: number) => Promise<number>, n: number) => {
  for (let i = 0; i < 100; i++) await roundTrip(i)
  const times: Array<number> = []
  for (let i = 100; i < 100 + n; i++) times.push(await roundTrip(i))
  return times.sort((a, b) => a - b)
}

export const runRedis = (): Promise<Figures> =>
  withBus({}, async (bus, roundTrip) => {
    const times = await busRoundTrips(roundTrip, 1000)

    const burst = 1000
    const before = await bus.redis.xlen(OUTBOUND)
    const t0 = performance.now()
    const pipeline = bus.redis.pipeline()
    for (let i = 0; i < burst; i++) {
      pipeline.xadd("switchboard:inbound", "*", "type", "message", "source", "redis:burst", "text", `x${i}`, "id", `x-${i}`)
    }
    await pipeline.exec()
    await eventually(async () => ((await bus.redis.xlen(OUTBOUND)) >= before + burst ? true : undefined), 120_000, 20)
    const burstMs = performance.now() - t0
    return {
      "round trip XADD → switchboard:outbound p50 ms (1,000 sequential; goal ≤ 3)": +percentile(times, 50).toFixed(2),
      "round trip p99 ms": +percentile(times, 99).toFixed(2),
      [`burst of ${burst} entries, all answered on switchboard:outbound, s`]: +(burstMs / 1000).toFixed(2)
    }
  })
