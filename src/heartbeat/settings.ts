// The heartbeat's settings as the runner uses them, and their checks (a zero interval would spin).
import { Duration, Schema } from "effect"
import type { GatewaySettings } from "../config/GatewayConfig.ts"

export type HeartbeatSettings = GatewaySettings["heartbeat"]

export class HeartbeatSettingsInvalid extends Schema.TaggedError<HeartbeatSettingsInvalid>()("HeartbeatSettingsInvalid", {
  variable: Schema.String,
  expected: Schema.String
}) {
  override get message() {
    return `${this.variable}: ${this.expected}`
  }
}

const MIN_EVERY = Duration.millis(10)

/** The first problem with the settings, if any. */
export const checkSettings = (s: HeartbeatSettings): HeartbeatSettingsInvalid | undefined =>
  Duration.isLessThan(s.every, MIN_EVERY)
    ? new HeartbeatSettingsInvalid({ variable: "SWITCHBOARD_HEARTBEAT_EVERY", expected: "at least 10 millis" })
    // A zero retry floor would retry a busy wake in a loop that never sleeps.
    : Duration.isLessThan(s.retryDelay, MIN_EVERY)
    ? new HeartbeatSettingsInvalid({ variable: "SWITCHBOARD_HEARTBEAT_RETRY", expected: "at least 10 millis" })
    : undefined

/** For /status and the reload response. */
export const describeSettings = (s: HeartbeatSettings) => ({
  every: Duration.format(s.every),
  everyMs: Duration.toMillis(s.every),
  coalesceMs: Duration.toMillis(s.coalesce),
  retryDelayMs: Duration.toMillis(s.retryDelay),
  eventsPerKey: s.eventsPerKey,
  watchdogGraceMs: Duration.toMillis(s.watchdogGrace)
})
