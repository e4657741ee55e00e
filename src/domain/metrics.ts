// Metric descriptors. They hold no state: values live in the runtime's MetricRegistry, which
// belongs to the running program (and is fresh per test), and are exposed at GET /metrics.
import { Metric } from "effect"

const ms = Metric.exponentialBoundaries({ start: 1, factor: 2, count: 18 }) // 1 ms … ~2 min

export const queueDepth = Metric.gauge("switchboard_queue_depth", { description: "Requests waiting in the queue" })
export const queueRefused = Metric.counter("switchboard_queue_refused_total", {
  description: "Requests refused because the queue was full",
  incremental: true
})
export const queueDuplicates = Metric.counter("switchboard_queue_duplicates_total", {
  description: "Requests recognised as duplicates of an id already seen",
  incremental: true
})
export const queueWait = Metric.histogram("switchboard_queue_wait_ms", {
  description: "Time a request waited in the queue",
  boundaries: ms
})
export const turnDuration = Metric.histogram("switchboard_turn_duration_ms", {
  description: "Duration of a session turn",
  boundaries: ms
})
export const turns = Metric.counter("switchboard_turns_total", { description: "Session turns by outcome", incremental: true })
export const deliveries = Metric.counter("switchboard_deliveries_total", {
  description: "Messages delivered by the Router, by channel and outcome",
  incremental: true
})
export const sourceMismatches = Metric.counter("switchboard_routing_source_mismatch_total", {
  description: "Deliveries refused because they targeted another source without saying so",
  incremental: true
})
export const inboundRejected = Metric.counter("switchboard_inbound_rejected_total", {
  description: "Inbound input rejected as invalid, by channel",
  incremental: true
})
