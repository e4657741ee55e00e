// Metric descriptors of checks, triage, webhooks and the digest (values live in the runtime's
// registry, exposed at GET /metrics).
import { Metric } from "effect"

export const checkState = Metric.gauge("switchboard_check_state", {
  description: "A check's state: 0 ok, 1 failing, 2 flapping, -1 not known yet"
})
export const checkRuns = Metric.counter("switchboard_check_runs_total", {
  description: "Check runs (and pushed results), by check and outcome (ok, fail, timeout, crashed, silent)",
  incremental: true
})
export const checkDuration = Metric.histogram("switchboard_check_duration_seconds", {
  description: "Duration of a check run",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 2, count: 18 })
})
export const triageTotal = Metric.counter("switchboard_triage_total", {
  description: "Triaged items, by action (immediate, notify, digest, suppress)",
  incremental: true
})
export const digestItems = Metric.gauge("switchboard_digest_items", {
  description: "Items waiting for the next digest"
})
export const digestsSent = Metric.counter("switchboard_digests_total", {
  description: "Digest messages sent, by outcome",
  incremental: true
})
export const webhookDeliveries = Metric.counter("switchboard_webhooks_total", {
  description: "Webhook deliveries, by hook and outcome (accepted, duplicate, bad_signature, missing_signature, invalid)",
  incremental: true
})
