// Heartbeat metric descriptors (values live in the runtime's registry, exposed at GET /metrics).
import { Metric } from "effect"

export const heartbeatTicks = Metric.counter("switchboard_heartbeat_ticks_total", {
  description: "Interval heartbeat ticks, by outcome",
  incremental: true
})
export const heartbeatLastTick = Metric.gauge("switchboard_heartbeat_last_tick_timestamp_seconds", {
  description: "Unix time of the last heartbeat tick"
})
export const wakeRuns = Metric.counter("switchboard_heartbeat_wakes_total", {
  description: "Wakes handled, by reason and outcome",
  incremental: true
})
export const relays = Metric.counter("switchboard_heartbeat_relays_total", {
  description: "Finished relay turns of system events, by outcome",
  incremental: true
})
export const relaysQueued = Metric.counter("switchboard_heartbeat_relays_queued_total", {
  description: "Relay requests queued for a chat's system events",
  incremental: true
})
export const systemEventsEnqueued = Metric.counter("switchboard_system_events_total", {
  description: "System events accepted into a session key's queue",
  incremental: true
})
export const systemEventsDropped = Metric.counter("switchboard_system_events_dropped_total", {
  description: "System events dropped because their session key's queue was full (oldest first)",
  incremental: true
})
export const systemEventsSkipped = Metric.counter("switchboard_system_events_skipped_total", {
  description: "System events skipped: a repeat of the previous text, empty text or no valid session key",
  incremental: true
})
