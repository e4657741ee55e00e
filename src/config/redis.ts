// Settings of the Redis bus channel (src/channels/redis/). The bus is on when REDIS_URL is set.
// The URL may carry a password, so it is kept Redacted; logs and /status show host, port and db only.
import { Config, Option, Redacted, Schema } from "effect"
import { duration, optionalString, positiveInt } from "./values.ts"

export const redisConfig = Config.all({
  url: Config.option(
    Config.schema(
      Schema.String.check(Schema.isPattern(/^rediss?:\/\/\S+$/, { expected: "a redis:// URL" })),
      "REDIS_URL"
    )
  ).pipe(Config.map(Option.map((url) => Redacted.make(url)))),
  /** The consumer name in the group; default `<hostname>:<hash of the state dir>` (stable per daemon). */
  consumer: optionalString("SWITCHBOARD_REDIS_CONSUMER"),
  /** `MAXLEN ~` of switchboard:outbound and switchboard:dead. */
  outboundMaxLen: positiveInt("SWITCHBOARD_REDIS_OUTBOUND_MAXLEN", 10_000),
  deadMaxLen: positiveInt("SWITCHBOARD_REDIS_DEAD_MAXLEN", 10_000),
  /** An entry pending this long in another consumer (a daemon that died) is claimed. */
  claimIdle: duration("SWITCHBOARD_REDIS_CLAIM_IDLE", "1 minute"),
  /** An entry delivered more often than this without being acknowledged is dead-lettered. */
  maxDeliveries: positiveInt("SWITCHBOARD_REDIS_MAX_DELIVERIES", 5),
  /** How long one XREADGROUP waits for new entries. */
  block: duration("SWITCHBOARD_REDIS_BLOCK", "5 seconds"),
  /** No reply within this (beyond the block time) means the connection is stalled: it is replaced. */
  stallTimeout: duration("SWITCHBOARD_REDIS_STALL_TIMEOUT", "10 seconds"),
  /** Reconnect backoff: from 100 ms, doubling, at most this far apart. */
  reconnectMax: duration("SWITCHBOARD_REDIS_RECONNECT_MAX", "30 seconds"),
  /** How long the delivery id of an outbound message is remembered (its XADD is not repeated). */
  deliveryTtl: duration("SWITCHBOARD_REDIS_DELIVERY_TTL", "7 days")
})

export type RedisSettings = Config.Success<typeof redisConfig>
