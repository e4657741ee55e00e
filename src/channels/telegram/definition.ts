// The Telegram channel as the gateway lists it: on when TELEGRAM_BOT_TOKEN is set.
import { Option } from "effect"
import type { ChannelDefinition } from "../Channel.ts"
import { TELEGRAM_LIMIT } from "./chunk.ts"
import { TelegramChannel } from "./TelegramChannel.ts"

export const telegram: ChannelDefinition = {
  name: "telegram",
  traits: { renders: "Markdown (sent as Telegram HTML)", maxChars: TELEGRAM_LIMIT, buttons: true },
  enabled: (settings) => Option.isSome(settings.telegram.botToken),
  layer: TelegramChannel.layer
}
