// The digest: batched items flushed every SWITCHBOARD_DIGEST_EVERY as one message per target
// (split into parts only past the channel's limit), through the Router with an explicit target.
// Nothing is sent when nothing waits. During quiet hours a due digest waits until they end.
// Its own fiber and schedule: the heartbeat's tick never waits for it, nor it for the heartbeat.
import { Clock, Context, Duration, Effect, Layer, Metric, Option, Semaphore } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Channels } from "../core/Channels.ts"
import { Router } from "../core/Router.ts"
import { channelOf } from "../domain/source.ts"
import { styleFor } from "./channelStyle.ts"
import { type DigestItem, renderDigest } from "./digestRender.ts"
import { DigestStore } from "./DigestStore.ts"
import { digestItems, digestsSent } from "./metrics.ts"
import { clockTime, msUntilQuietEnds, parseQuietHours, type QuietHours } from "./quietHours.ts"
import { supervised } from "../core/supervised.ts"

export interface FlushReport {
  readonly target: string
  readonly items: number
  readonly messages: number
  readonly outcome: "delivered" | "queued" | "failed"
  readonly error?: string | undefined
}

export interface DigestStats {
  readonly waiting: number
  readonly every: string
  readonly lastFlushAt: string | null
  readonly nextFlushAt: string | null
  readonly sent: number
  readonly failed: number
}

export const quietHoursOf = (settings: GatewayConfig["Service"]["checks"]): QuietHours | undefined =>
  Option.match(settings.quietHours, {
    onNone: () => undefined,
    onSome: (range) => parseQuietHours(range, settings.timeZone)
  })

export class Digest extends Context.Service<Digest, {
  readonly add: (item: Omit<DigestItem, "seq">) => Effect.Effect<void>
  /** Send every target's digest now (also `switchboard digest --now`). */
  readonly flush: Effect.Effect<ReadonlyArray<FlushReport>>
  readonly stats: Effect.Effect<DigestStats>
}>()("switchboard/Digest") {
  static readonly layer = Layer.effect(
    Digest,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const store = yield* DigestStore
      const router = yield* Router
      const channels = yield* Channels
      const settings = config.checks
      const quiet = quietHoursOf(settings)
      const time = clockTime(settings.timeZone)
      const everyMs = Duration.toMillis(settings.digestEvery)
      const lock = yield* Semaphore.make(1)
      const state = { lastFlushAt: undefined as number | undefined, nextFlushAt: undefined as number | undefined, sent: 0, failed: 0 }
      for (const outcome of ["delivered", "queued", "failed"]) {
        yield* Metric.update(Metric.withAttributes(digestsSent, { outcome }), 0)
      }
      const gauge = Effect.flatMap(store.size, (n) => Metric.update(digestItems, n))

      const flushTarget = (target: string, items: ReadonlyArray<DigestItem>, dropped: number) =>
        Effect.gen(function*() {
          const parts = renderDigest(items, styleFor(yield* channels.traitsOf(channelOf(target) ?? "")), time, dropped)
          if (parts.length === 0) return undefined
          let outcome: FlushReport["outcome"] = "delivered"
          for (const text of parts) {
            const sent = yield* router.deliver(target, { kind: "notify", text }, { explicit: true }).pipe(Effect.result)
            if (sent._tag === "Failure") {
              state.failed++
              yield* Metric.update(Metric.withAttributes(digestsSent, { outcome: "failed" }), 1)
              // Kept for the next digest (bounded by SWITCHBOARD_DIGEST_MAX_ITEMS).
              yield* Effect.logError(`digest for ${target} not delivered: ${sent.failure.message}; its items wait for the next one`)
              return { target, items: items.length, messages: parts.length, outcome: "failed", error: sent.failure.message } satisfies FlushReport
            }
            if (sent.success === "queued") outcome = "queued"
          }
          yield* store.remove(target, Math.max(0, ...items.map((i) => i.seq)), dropped)
          state.sent++
          yield* Metric.update(Metric.withAttributes(digestsSent, { outcome }), 1)
          yield* Effect.logInfo(`digest ${outcome === "queued" ? "queued in the outbox" : "sent"} to ${target}`).pipe(
            Effect.annotateLogs({ target, items: items.length, messages: parts.length })
          )
          return { target, items: items.length, messages: parts.length, outcome } satisfies FlushReport
        })

      const flush = Effect.gen(function*() {
        state.lastFlushAt = yield* Clock.currentTimeMillis
        const reports: Array<FlushReport> = []
        for (const p of yield* store.pending) {
          const r = yield* flushTarget(p.target, p.items, p.dropped)
          if (r !== undefined) reports.push(r)
        }
        yield* gauge
        return reports as ReadonlyArray<FlushReport>
      }).pipe(lock.withPermit, Effect.withSpan("digest.flush", { root: true }))

      // Due every interval; a due digest inside quiet hours waits for their end, then the interval goes on from there.
      const loop = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        state.nextFlushAt = now + everyMs
        yield* Effect.sleep(everyMs)
        const wait = msUntilQuietEnds(quiet, yield* Clock.currentTimeMillis)
        if (wait > 0) {
          state.nextFlushAt = (yield* Clock.currentTimeMillis) + wait
          yield* Effect.sleep(wait)
        }
        yield* flush.pipe(Effect.catchCause((cause) => Effect.logError("digest flush failed", cause)))
      }).pipe(Effect.forever)
      yield* loop.pipe(supervised({ name: "digest" }), Effect.forkScoped)

      const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())
      return Digest.of({
        add: (item) => Effect.andThen(store.add(item), gauge),
        flush,
        stats: Effect.gen(function*() {
          return {
            waiting: yield* store.size,
            every: Duration.format(settings.digestEvery),
            lastFlushAt: iso(state.lastFlushAt),
            nextFlushAt: iso(state.nextFlushAt),
            sent: state.sent,
            failed: state.failed
          }
        })
      })
    })
  )
}
