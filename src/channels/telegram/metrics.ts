// Telegram channel metrics (descriptors only; values live in the runtime's registry).
import { Metric } from "effect"

export const telegramUpdates = Metric.counter("switchboard_telegram_updates_total", {
  description: "Telegram updates received, by kind (text, command, callback, unsupported, invalid, duplicate)",
  incremental: true
})
export const telegramDenied = Metric.counter("switchboard_telegram_denied_total", {
  description: "Telegram updates ignored because their chat is not in TELEGRAM_ALLOWED_CHAT_IDS",
  incremental: true
})
export const telegramSends = Metric.counter("switchboard_telegram_sends_total", {
  description: "Telegram messages sent, by outcome (sent, plain_fallback, rate_limited, permanent, failed)",
  incremental: true
})
export const telegramPollFailures = Metric.counter("switchboard_telegram_poll_failures_total", {
  description: "getUpdates calls that failed",
  incremental: true
})
export const telegramFailingInARow = Metric.gauge("switchboard_telegram_consecutive_failures", {
  description: "getUpdates (or setWebhook) failures in a row right now; 0 when Telegram answers"
})
export const telegramLastPoll = Metric.gauge("switchboard_telegram_last_poll_timestamp_seconds", {
  description: "Unix time of the last successful getUpdates"
})
