// Redis bus metrics (descriptors only; values live in the runtime's registry).
import { Effect, Metric } from "effect"
import type { DeadCode } from "./entries.ts"

export const busEntries = Metric.counter("switchboard_redis_entries_total", {
  description: "Entries read from switchboard:inbound, by type and outcome (accepted, duplicate, dropped, dead)",
  incremental: true
})
export const busDeadLetters = Metric.counter("switchboard_redis_dead_letters_total", {
  description: "Entries moved to switchboard:dead, by code (invalid, unknown_type, unknown_target, unknown_check, too_many_deliveries, refused, no_checks)",
  incremental: true
})
export const busClaimed = Metric.counter("switchboard_redis_claimed_total", {
  description: "Entries claimed from a consumer that stopped acknowledging them (XAUTOCLAIM)",
  incremental: true
})
export const busOutbound = Metric.counter("switchboard_redis_outbound_total", {
  description: "Messages for redis:* targets, by outcome (added, duplicate: already on switchboard:outbound; failed)",
  incremental: true
})
export const busUp = Metric.gauge("switchboard_redis_up", {
  description: "1 while the bus reads switchboard:inbound, 0 while Redis cannot be reached"
})
export const busReconnects = Metric.counter("switchboard_redis_reconnects_total", {
  description: "Times the bus connected to Redis again after losing it",
  incremental: true
})
export const busLag = Metric.gauge("switchboard_redis_lag", {
  description: "Entries in switchboard:inbound not yet read by the group (XINFO GROUPS lag)"
})
export const busPending = Metric.gauge("switchboard_redis_pending", {
  description: "Entries read by the group but not yet acknowledged"
})

const DEAD_CODES: ReadonlyArray<DeadCode> = [
  "invalid",
  "unknown_type",
  "unknown_target",
  "unknown_check",
  "too_many_deliveries",
  "refused",
  "no_checks"
]

/** Failure series exist at 0 from the start, so an alert on increase() sees the first one. */
export const initBusMetrics = Effect.gen(function*() {
  yield* Metric.update(busUp, 0)
  for (const code of DEAD_CODES) yield* Metric.update(Metric.withAttributes(busDeadLetters, { code }), 0)
  yield* Metric.update(Metric.withAttributes(busOutbound, { outcome: "failed" }), 0)
  yield* Metric.update(busReconnects, 0)
})
