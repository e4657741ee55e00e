// The last deliveries the Router made (target, kind, outcome, latency), for the dashboard and
// /v1/events. It wraps the Router rather than living inside it: every `deliver` of the graph goes
// through the wrapped one (Core.ts composes it), and the Router itself stays about sending.
import { Clock, Context, Effect, Layer, Scope } from "effect"
import type { DeliveryError } from "../domain/errors.ts"
import type { OutboundKind } from "../domain/model.ts"
import { parseSource } from "../domain/source.ts"
import { Router } from "./Router.ts"

/** Deliveries kept (the dashboard shows the last 50). */
export const RECENT_DELIVERIES = 50

export interface DeliveryRecord {
  readonly at: string
  readonly target: string
  readonly channel: string
  readonly kind: OutboundKind
  /** `queued`: the channel could not take it yet; it waits in the outbox. */
  readonly outcome: "delivered" | "queued" | "failed"
  readonly latencyMs: number
  readonly requestId: string | null
  readonly traceId: string | null
  readonly error: string | null
}

export type DeliveryListener = (record: DeliveryRecord) => Effect.Effect<void>

export interface ChannelDeliveries {
  readonly delivered: number
  readonly queued: number
  readonly failed: number
}

const errorText = (e: DeliveryError) => e.message

export class DeliveryLog extends Context.Service<DeliveryLog, {
  readonly record: (record: DeliveryRecord) => Effect.Effect<void>
  /** Oldest first, at most RECENT_DELIVERIES. */
  readonly recent: Effect.Effect<ReadonlyArray<DeliveryRecord>>
  /** Deliveries per channel since the start. */
  readonly byChannel: Effect.Effect<Readonly<Record<string, ChannelDeliveries>>>
  /** Hear every delivery while the caller's scope lives (the listener must not block). */
  readonly listen: (listener: DeliveryListener) => Effect.Effect<void, never, Scope.Scope>
}>()("switchboard/DeliveryLog") {
  static readonly make = Effect.sync(() => {
    const recent: Array<DeliveryRecord> = []
    const counts = new Map<string, { delivered: number; queued: number; failed: number }>()
    const listeners = new Set<DeliveryListener>()
    const record = (r: DeliveryRecord) =>
      Effect.suspend(() => {
        recent.push(r)
        if (recent.length > RECENT_DELIVERIES) recent.splice(0, recent.length - RECENT_DELIVERIES)
        const c = counts.get(r.channel) ?? { delivered: 0, queued: 0, failed: 0 }
        c[r.outcome]++
        counts.set(r.channel, c)
        return Effect.forEach(listeners, (l) => l(r), { discard: true })
      })
    return DeliveryLog.of({
      record,
      recent: Effect.sync(() => [...recent]),
      byChannel: Effect.sync(() => Object.fromEntries([...counts].map(([k, v]) => [k, { ...v }]))),
      listen: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => listeners.add(listener)),
          () => Effect.sync(() => listeners.delete(listener))
        ).pipe(Effect.asVoid)
    })
  })

  static readonly layer = Layer.effect(DeliveryLog, DeliveryLog.make)

  /** The Router of `inner`, with each `deliver` recorded here. Requires DeliveryLog. */
  static readonly recording = <E, R>(inner: Layer.Layer<Router, E, R>) =>
    Layer.effect(
      Router,
      Effect.gen(function*() {
        const router = yield* Router
        const log = yield* DeliveryLog
        const deliver: Router["Service"]["deliver"] = (target, message, options) =>
          Effect.gen(function*() {
            const started = yield* Clock.currentTimeMillis
            const span = yield* Effect.currentSpan.pipe(Effect.option)
            const result = yield* Effect.result(router.deliver(target, message, options))
            const now = yield* Clock.currentTimeMillis
            yield* log.record({
              at: new Date(now).toISOString(),
              target,
              channel: parseSource(target)?.channel ?? "unknown",
              kind: message.kind,
              outcome: result._tag === "Success" ? result.success : "failed",
              latencyMs: now - started,
              requestId: message.requestId ?? null,
              traceId: span._tag === "Some" ? span.value.traceId : null,
              error: result._tag === "Failure" ? errorText(result.failure) : null
            })
            return yield* Effect.fromResult(result)
          })
        return Router.of({ ...router, deliver })
      })
    ).pipe(Layer.provide(inner))
}
