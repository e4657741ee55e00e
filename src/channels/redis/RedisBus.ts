// The Redis bus channel: background workers, cron jobs and scripts push entries to
// switchboard:inbound (consumer group `switchboard`); replies, notifications and relays for
// `redis:*` targets come back on switchboard:outbound; what cannot be processed goes to
// switchboard:dead with its reason. Redis faults never stop the gateway: the bus reconnects with a
// capped backoff, /health warns meanwhile, and every other channel keeps working. Everything it
// holds lives in this layer's scope.
import { hostname } from "node:os"
import { Clock, Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import { Checks } from "../../checks/Checks.ts"
import { Triage } from "../../checks/Triage.ts"
import { ChannelLife } from "../../core/Channels.ts"
import { CommandQueue } from "../../core/CommandQueue.ts"
import { ConfigInvalid, GatewayConfig } from "../../config/GatewayConfig.ts"
import { Intake } from "../../core/Intake.ts"
import { Router } from "../../core/Router.ts"
import { type HealthCheck, Status } from "../../core/Status.ts"
import { HeartbeatWake } from "../../heartbeat/HeartbeatWake.ts"
import { SystemEvents } from "../../heartbeat/SystemEvents.ts"
import { Agents } from "../../config/Agents.ts"
import { openReader, openSender } from "./connection.ts"
import { readSession } from "./consumer.ts"
import { makeHandler } from "./handle.ts"
import { initBusMetrics } from "./metrics.ts"
import { consumerName, describeUrl } from "./names.ts"
import { makeSender } from "./sender.ts"
import { type BusStats, emptyStats } from "./stats.ts"
import { makeLifecycle, supervise } from "./supervisor.ts"

export class RedisBus extends Context.Service<RedisBus, {
  readonly stats: Effect.Effect<Readonly<BusStats>>
}>()("switchboard/RedisBus") {
  static readonly layer = Layer.effect(
    RedisBus,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const settings = config.redis
      if (Option.isNone(settings.url)) {
        return yield* new ConfigInvalid({ variable: "REDIS_URL", expected: "set for the Redis bus channel" })
      }
      const url = Redacted.value(settings.url.value)
      const consumer = Option.getOrElse(settings.consumer, () => consumerName(hostname(), config.stateDir))
      const stats = emptyStats(consumer, describeUrl(url), new Date(yield* Clock.currentTimeMillis).toISOString())
      const stallMs = Duration.toMillis(settings.stallTimeout)
      const reconnectMaxMs = Duration.toMillis(settings.reconnectMax)
      const router = yield* Router
      const status = yield* Status
      yield* initBusMetrics

      const out = yield* openSender(url, { name: `switchboard-out:${consumer}`, stallMs, reconnectMaxMs })
      const sender = makeSender({ conn: out, stats, maxLen: settings.outboundMaxLen, deliveryTtl: settings.deliveryTtl })
      yield* router.register({ channel: "redis", send: sender.send })

      const handle = makeHandler({
        intake: yield* Intake,
        agents: yield* Agents,
        router,
        queue: yield* CommandQueue,
        events: yield* SystemEvents,
        wake: yield* HeartbeatWake,
        checks: yield* Effect.serviceOption(Checks),
        triage: yield* Effect.serviceOption(Triage),
        stats,
        maxText: config.http.maxBodyBytes
      })
      const lifecycle = makeLifecycle(stats, reconnectMaxMs, yield* ChannelLife)
      const session = Effect.flatMap(
        openReader(url, { name: `switchboard-in:${consumer}`, stallMs }),
        (conn) =>
          readSession(conn, {
            consumer,
            blockMs: Duration.toMillis(settings.block),
            stallMs,
            claimIdleMs: Duration.toMillis(settings.claimIdle),
            maxDeliveries: settings.maxDeliveries,
            deadMaxLen: settings.deadMaxLen,
            stats,
            handle,
            onUp: lifecycle.up
          })
      )

      const snapshot = Effect.sync(() => ({ ...structuredClone(stats), outboundConnection: out.client.status }))
      yield* status.contribute("redis", snapshot)
      yield* status.contributeHealth(
        "redis",
        Effect.sync((): HealthCheck => {
          if (stats.state === "connecting") return { status: "warn", detail: `connecting to Redis at ${stats.server}` }
          if (stats.state !== "up") {
            return { status: "warn", detail: `Redis at ${stats.server} unreachable since ${stats.since}: ${stats.lastError ?? "?"}` }
          }
          if (out.client.status !== "ready") {
            return { status: "warn", detail: `outbound connection ${out.client.status}: ${out.lastError() ?? "reconnecting"}` }
          }
          return { status: "pass" }
        })
      )

      yield* supervise(session, lifecycle, stats, reconnectMaxMs).pipe(Effect.forkScoped)
      return RedisBus.of({ stats: Effect.sync(() => structuredClone(stats)) })
    })
  )
}
