// Housekeeping of switchboard:inbound between reads: lag and pending for /status and /metrics,
// trimming what every group on the stream has acknowledged, and forgetting consumers of our group
// that hold nothing and have been idle for a day (daemons that went away), so the group stays small.
import { Effect, Metric } from "effect"
import type { Connection } from "./connection.ts"
import { busLag, busPending } from "./metrics.ts"
import { DEAD, GROUP, type GroupPosition, INBOUND, trimPoint } from "./names.ts"
import type { BusStats } from "./stats.ts"

/** A consumer of our group with nothing pending and idle this long is removed (bounds the group). */
const FORGET_CONSUMER_AFTER_MS = 24 * 60 * 60 * 1000

/** XINFO's flat key/value replies as an object. */
export const pairs = (flat: ReadonlyArray<unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1]
  return out
}

export const forgetIdleConsumers = (conn: Connection, consumer: string) => Effect.gen(function*() {
  const rows = (yield* conn.run("xinfo consumers", (c) => c.xinfo("CONSUMERS", INBOUND, GROUP))) as Array<Array<unknown>>
  for (const row of rows.map(pairs)) {
    const name = String(row["name"])
    if (name !== consumer && Number(row["pending"]) === 0 && Number(row["idle"]) > FORGET_CONSUMER_AFTER_MS) {
      yield* conn.run("xgroup delconsumer", (c) => c.xgroup("DELCONSUMER", INBOUND, GROUP, name))
    }
  }
})

/** Lag and pending for /status; trim what every group on the stream has acknowledged. */
export const maintain = (conn: Connection, stats: BusStats) => Effect.gen(function*() {
  const groups = ((yield* conn.run("xinfo groups", (c) => c.xinfo("GROUPS", INBOUND))) as Array<Array<unknown>>).map(pairs)
  const positions: Array<GroupPosition> = []
  for (const g of groups) {
    const pendingCount = Number(g["pending"])
    const lowest = pendingCount > 0
      ? String(((yield* conn.run("xpending", (c) => c.xpending(INBOUND, String(g["name"])))) as Array<unknown>)[1])
      : undefined
    positions.push({ lastDeliveredId: String(g["last-delivered-id"]), lowestPendingId: lowest })
    if (g["name"] === GROUP) {
      stats.pending = pendingCount
      stats.lag = g["lag"] === null || g["lag"] === undefined ? null : Number(g["lag"])
    }
  }
  const point = trimPoint(positions)
  if (point !== undefined) yield* conn.run("xtrim", (c) => c.xtrim(INBOUND, "MINID", point))
  stats.deadStream = yield* conn.run("xlen", (c) => c.xlen(DEAD))
  yield* Metric.update(busPending, stats.pending ?? 0)
  yield* Metric.update(busLag, stats.lag ?? 0)
})

