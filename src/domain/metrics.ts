// Metric descriptors. They hold no state: values live in the runtime's MetricRegistry, which
// belongs to the running program (and is fresh per test), and are exposed at GET /metrics.
import { Metric } from "effect"

// Seconds, Prometheus' unit: 1 ms … ~17 min, past the longest turn (SWITCHBOARD_TURN_TIMEOUT 5 min).
const seconds = Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 21 })

export const queueDepth = Metric.gauge("switchboard_queue_depth", { description: "Requests waiting in the queue" })
export const queueRefused = Metric.counter("switchboard_queue_refused_total", {
  description: "Requests refused because the queue was full",
  incremental: true
})
export const queueDuplicates = Metric.counter("switchboard_queue_duplicates_total", {
  description: "Requests recognised as duplicates of an id already seen",
  incremental: true
})
export const queueWait = Metric.histogram("switchboard_queue_wait_seconds", {
  description: "Time a request waited in the queue",
  boundaries: seconds
})
export const turnDuration = Metric.histogram("switchboard_turn_duration_seconds", {
  description: "Duration of a session turn",
  boundaries: seconds
})
export const turns = Metric.counter("switchboard_turns_total", { description: "Session turns by outcome", incremental: true })
export const agentTurns = Metric.counter("switchboard_agent_turns_total", {
  description: "Session turns by agent and outcome",
  incremental: true
})
export const agentTurnDuration = Metric.histogram("switchboard_agent_turn_duration_seconds", {
  description: "Duration of a session turn, by agent",
  boundaries: seconds
})
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
export const outboxWaiting = Metric.gauge("switchboard_outbox_waiting", {
  description: "Messages waiting in the outbox for their channel"
})
export const outboxOldest = Metric.gauge("switchboard_outbox_oldest_timestamp_seconds", {
  description: "Unix time the oldest message in the outbox first failed (0 when empty); alert on time() - this"
})
export const outboxGaveUp = Metric.counter("switchboard_outbox_given_up_total", {
  description: "Messages dropped from the outbox: refused for good or still failing after 24 h",
  incremental: true
})
export const startTime = Metric.gauge("switchboard_start_time_seconds", {
  description: "Unix time the daemon started (a change means a restart)"
})
export const buildInfo = Metric.gauge("switchboard_build_info", {
  description: "1, labelled with the version of switchboard and of Node"
})

// Set when /metrics is scraped: a wedged dispatcher updates nothing, so these read the state live.
export const queueOldestWait = Metric.gauge("switchboard_queue_oldest_wait_seconds", {
  description: "How long the oldest waiting request has waited (0 when the queue is empty)"
})
export const turnRunning = Metric.gauge("switchboard_turn_running_seconds", {
  description: "How long the running turn has run (0 when idle); alert when it passes the turn timeout"
})

/** Turn outcomes, as labels of switchboard_turns_total (exported at 0 from the start). */
export const TURN_OUTCOMES = ["Replied", "Failed", "Aborted", "TimedOut", "ShutDown"] as const
export const persistenceFailures = Metric.counter("switchboard_persistence_failures_total", {
  description: "Writes to the state dir that failed, by what was written",
  incremental: true
})
export const fiberRestarts = Metric.counter("switchboard_fiber_restarts_total", {
  description: "Background fibers (channels' receive loops, the dispatcher, …) started again after they crashed, by fiber",
  incremental: true
})
export const memoryDropped = Metric.counter("switchboard_memory_dropped_total", {
  description: "Kept items dropped at their byte budget (oldest first), by store: request_log, inbox, system_events",
  incremental: true
})
