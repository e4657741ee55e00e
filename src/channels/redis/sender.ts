// Outbound: every message for a `redis:*` target becomes one entry on switchboard:outbound
// (`target`, `requestId`, `kind`, `text`; `questionId` and `options` for a question), written at
// most once per delivery id by a script that remembers the id in the same step as the XADD.
import { Duration, Effect, Metric } from "effect"
import { DeliveryFailed } from "../../domain/errors.ts"
import type { Outbound } from "../../domain/model.ts"
import type { Connection } from "./connection.ts"
import { busOutbound } from "./metrics.ts"
import { deliveryId, OUTBOUND } from "./names.ts"
import { withScripts } from "./scripts.ts"
import type { BusStats } from "./stats.ts"

export interface SenderOptions {
  readonly conn: Connection
  readonly stats: BusStats
  readonly maxLen: number
  readonly deliveryTtl: Duration.Duration
}

export const outboundFields = (target: string, message: Outbound): Array<string> => [
  "target",
  target,
  "requestId",
  message.requestId ?? "",
  "kind",
  message.kind,
  "text",
  message.text,
  ...(message.question !== undefined
    ? ["questionId", message.question.id, "options", JSON.stringify(message.question.options)]
    : [])
]

export const makeSender = (options: SenderOptions) => {
  const { conn, stats } = options
  const client = withScripts(conn.client)
  const ttlSeconds = Math.max(1, Math.round(Duration.toSeconds(options.deliveryTtl)))

  const count = (outcome: "added" | "duplicate" | "failed") =>
    Effect.andThen(
      Effect.sync(() => {
        if (outcome === "added") stats.outbound.added++
        else if (outcome === "duplicate") stats.outbound.duplicates++
        else stats.outbound.failed++
      }),
      Metric.update(Metric.withAttributes(busOutbound, { outcome }), 1)
    )

  const send = Effect.fn("redis.publish")(function*(target: string, message: Outbound) {
    const fields = outboundFields(target, message)
    const key = deliveryId(target, message)
    const added = yield* (key === undefined
      ? conn.run("xadd", (c) => c.xadd(OUTBOUND, "MAXLEN", "~", options.maxLen, "*", ...fields)).pipe(Effect.as(true))
      : conn.run("publish", () => client.publishOnce(key, OUTBOUND, ttlSeconds, options.maxLen, ...fields)).pipe(
        Effect.map(([fresh]) => fresh === 1)
      )).pipe(
        Effect.tapError(() => count("failed")),
        // Temporary: the Router retries and then keeps it in its outbox until Redis is back.
        Effect.mapError((e) => new DeliveryFailed({ target, reason: e.message, permanent: false }))
      )
    yield* Effect.annotateCurrentSpan({ "switchboard.redis.duplicate": !added })
    yield* count(added ? "added" : "duplicate")
  })

  return { send }
}
