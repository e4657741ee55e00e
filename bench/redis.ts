// The Redis bus against the built daemon (echo provider) and a redis-server of its own on a free
// port: XADD to switchboard:inbound → the reply read from switchboard:outbound, one at a time, and
// a burst of entries published at once.
import { type Figures, percentile } from "./core.ts"
import { eventually, startDaemon } from "../test/support/daemon.ts"
import { connectBus, redisServer } from "../test/support/redis.ts"

const OUTBOUND = "switchboard:outbound"

export const runRedis = async (): Promise<Figures> => {
  const server = await redisServer()
  await server.start()
  const daemon = await startDaemon({ env: { REDIS_URL: server.url(0), SWITCHBOARD_LOG_LEVEL: "Warn" } })
  const bus = await connectBus(server.url(0), { flush: false })
  const reader = bus.redis.duplicate()
  try {
    await eventually(async () => ((await daemon.json("/health")).body.checks.redis?.status === "pass" ? true : undefined))
    let last = "0-0"
    /** Publish one message and wait for its reply on the outbound stream. */
    const roundTrip = async (i: number) => {
      const t0 = performance.now()
      await bus.publish({ type: "message", source: "redis:bench", text: `m${i}`, id: `b-${i}` })
      for (;;) {
        const res = (await reader.xread("BLOCK", 10_000, "STREAMS", OUTBOUND, last)) as
          | Array<[string, Array<[string, Array<string>]>]>
          | null
        if (res === null) throw new Error(`no reply to m${i} within 10 s`)
        const entries = res[0]![1]
        last = entries[entries.length - 1]![0]
        if (entries.some(([, f]) => f.includes(`redis:bench~b-${i}`))) return performance.now() - t0
      }
    }
    for (let i = 0; i < 100; i++) await roundTrip(i) // warm-up
    const times: Array<number> = []
    for (let i = 100; i < 1100; i++) times.push(await roundTrip(i))
    times.sort((a, b) => a - b)

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
  } finally {
    reader.disconnect()
    await bus.close()
    await daemon.stop()
    await server.dispose()
  }
}
