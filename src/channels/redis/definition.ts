// The Redis bus as the gateway lists it: on when REDIS_URL is set.
import { Option } from "effect"
import type { ChannelDefinition } from "../Channel.ts"
import { RedisBus } from "./RedisBus.ts"

export const redis: ChannelDefinition = {
  name: "redis",
  traits: { renders: "plain text, read by programs from a Redis stream", maxChars: Number.POSITIVE_INFINITY, buttons: false },
  enabled: (settings) => Option.isSome(settings.redis.url),
  layer: RedisBus.layer
}
