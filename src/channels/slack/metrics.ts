// Slack channel metrics (descriptors only; values live in the runtime's registry).
import { Metric } from "effect"

export const slackEnvelopes = Metric.counter("switchboard_slack_envelopes_total", {
  description: "Slack envelopes and events received, by kind (text, press, ignored, denied, duplicate, invalid, unsupported, refused)",
  incremental: true
})
export const slackSends = Metric.counter("switchboard_slack_sends_total", {
  description: "Slack messages posted, by outcome (sent, rate_limited, permanent, failed, refused_not_allowed)",
  incremental: true
})
export const slackConnected = Metric.gauge("switchboard_slack_connected", {
  description: "1 while the Socket Mode connection is up, 0 while it is down"
})
export const slackReconnects = Metric.counter("switchboard_slack_connection_failures_total", {
  description: "Socket Mode connection attempts that failed or connections that dropped",
  incremental: true
})
