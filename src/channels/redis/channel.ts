// How the daemon plugs the bus in: on when REDIS_URL is set. (This file becomes the bus's entry in
// the channel list once the Channel contract exists.)
import { Layer, Option } from "effect"
import type { GatewaySettings } from "../../config/GatewayConfig.ts"
import { RedisBus } from "./RedisBus.ts"

export const redisBusLayer = (settings: GatewaySettings) =>
  Option.isSome(settings.redis.url) ? RedisBus.layer : Layer.empty
