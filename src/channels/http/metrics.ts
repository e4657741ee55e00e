// HTTP API limits (descriptors only; values live in the runtime's registry).
import { Metric } from "effect"

export const httpConnections = Metric.gauge("switchboard_http_connections", {
  description: "Client connections open to the HTTP API right now"
})
export const httpWaiters = Metric.gauge("switchboard_http_waiters", {
  description: "Long-polls (?wait=) being held right now"
})
export const httpRefused = Metric.counter("switchboard_http_refused_total", {
  description: "Connections dropped at SWITCHBOARD_HTTP_MAX_CONNECTIONS (reason max_connections) and long-polls refused at SWITCHBOARD_HTTP_MAX_WAITERS (too_many_waiters)",
  incremental: true
})
export const eventClients = Metric.gauge("switchboard_events_clients", {
  description: "GET /v1/events streams open right now (the dashboard, scripts)"
})
export const eventClientsDropped = Metric.counter("switchboard_events_dropped_total", {
  description: "Event-stream clients dropped because they fell SWITCHBOARD_EVENTS_BUFFER events behind",
  incremental: true
})
