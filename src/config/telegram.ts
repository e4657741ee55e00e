// The Telegram channel's settings (src/channels/telegram/). On when TELEGRAM_BOT_TOKEN is set.
import { Config } from "effect"
import { commaList, duration, httpUrl, optionalSecret, optionalString, positiveInt } from "./values.ts"

export const TelegramConfig = Config.all({
  botToken: optionalSecret("TELEGRAM_BOT_TOKEN"),
  apiRoot: httpUrl("TELEGRAM_API_ROOT", "https://api.telegram.org"),
  allowedChatIds: commaList("TELEGRAM_ALLOWED_CHAT_IDS"),
  /** How long one getUpdates long-poll waits for updates. */
  pollTimeout: duration("TELEGRAM_POLL_TIMEOUT", "30 seconds"),
  /** Per-chat pacing: one message per interval on average, bursts of up to TELEGRAM_PACE_BURST. */
  paceInterval: duration("TELEGRAM_PACE_INTERVAL", "1 second"),
  paceBurst: positiveInt("TELEGRAM_PACE_BURST", 3),
  /** Typing indicator renewal while a chat's turn runs (Telegram shows one for about 5 s). */
  typingEvery: duration("TELEGRAM_TYPING_EVERY", "4500 millis"),
  /** Webhook mode instead of long polling: the public URL Telegram posts updates to. */
  webhookUrl: optionalString("TELEGRAM_WEBHOOK_URL"),
  /** Checked against X-Telegram-Bot-Api-Secret-Token on every webhook request. */
  webhookSecret: optionalSecret("TELEGRAM_WEBHOOK_SECRET")
})
