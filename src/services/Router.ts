// Outbound: deliver(target, message) through the sender registered for the target's channel.
// Retries what a channel says is temporary (honouring its retry-after), refuses a send that would
// leave the current turn's source without saying so, and reports unknown targets without crashing.
import { Clock, Context, Effect, Layer, Metric, Scope } from "effect"
import { type DeliveryError, DeliveryFailed, SourceMismatch, UnknownTarget } from "../domain/errors.ts"
import { deliveries, sourceMismatches } from "../domain/metrics.ts"
import type { Outbound } from "../domain/model.ts"
import { scopedEntry } from "../domain/scopedEntry.ts"
import { parseSource } from "../domain/source.ts"
import { CurrentRequest } from "./CurrentRequest.ts"

/** One per channel (`http`, `cli`, `telegram`, `redis`, …). */
export interface ChannelSender {
  readonly channel: string
  readonly send: (target: string, message: Outbound) => Effect.Effect<void, DeliveryFailed>
}

export interface DeliverOptions {
  /** The caller named this target on purpose (a proactive notification, `notify { target }`). */
  readonly explicit?: boolean | undefined
}

export interface RouterStats {
  readonly channels: ReadonlyArray<string>
  readonly delivered: number
  readonly failed: number
  readonly unknownTargets: number
  readonly mismatches: number
}

export interface RetryPolicy {
  readonly attempts: number
  readonly baseDelayMs: number
}

export class Router extends Context.Service<Router, {
  /** Register a channel's sender for the lifetime of the caller's scope. */
  readonly register: (sender: ChannelSender) => Effect.Effect<void, never, Scope.Scope>
  readonly deliver: (target: string, message: Outbound, options?: DeliverOptions) => Effect.Effect<void, DeliveryError>
  readonly stats: Effect.Effect<RouterStats>
}>()("switchboard/Router") {
  static readonly make = (retry: RetryPolicy) =>
    Effect.gen(function*() {
      const senders = new Map<string, ChannelSender>()
      const counters = { delivered: 0, failed: 0, unknownTargets: 0, mismatches: 0 }

      // Only removes what it registered: a newer sender for the channel stays.
      const register = (sender: ChannelSender) => scopedEntry(senders, sender.channel, sender)

      const count = (channel: string, outcome: string) =>
        Metric.update(Metric.withAttributes(deliveries, { channel, outcome }), 1)

      const checkSource = Effect.fnUntraced(function*(target: string, options: DeliverOptions | undefined) {
        const current = yield* CurrentRequest
        if (current === undefined || current.source === target || options?.explicit === true) return
        counters.mismatches++
        const now = yield* Clock.currentTimeNanos
        yield* Effect.currentSpan.pipe(
          Effect.tap((span) =>
            Effect.sync(() => span.event("routing.source_mismatch", now, { target, source: current.source }))
          ),
          Effect.ignore
        )
        yield* Metric.update(sourceMismatches, 1)
        yield* Effect.logWarning("refused an implicit delivery to another source").pipe(
          Effect.annotateLogs({ target, source: current.source, requestId: current.id })
        )
        return yield* new SourceMismatch({ target, source: current.source })
      })

      const sendWithRetry = (sender: ChannelSender, target: string, message: Outbound) => {
        const attempt = (n: number): Effect.Effect<void, DeliveryFailed> =>
          sender.send(target, message).pipe(
            Effect.catchTag("DeliveryFailed", (e) => {
              if (e.permanent || n + 1 >= retry.attempts) return Effect.fail(e)
              const delay = e.retryAfterMs ?? retry.baseDelayMs * 2 ** n
              return Effect.logInfo(`delivery to ${target} failed (${e.reason}); retrying in ${delay} ms`).pipe(
                Effect.andThen(Effect.sleep(delay)),
                Effect.andThen(attempt(n + 1))
              )
            })
          )
        return attempt(0)
      }

      const deliver = Effect.fn("router.deliver")(
        function*(target: string, message: Outbound, options?: DeliverOptions) {
          yield* Effect.annotateCurrentSpan({
            "switchboard.target": target,
            "switchboard.kind": message.kind,
            ...(message.requestId ? { "switchboard.request_id": message.requestId } : {})
          })
          yield* checkSource(target, options)
          const parsed = parseSource(target)
          const sender = parsed && senders.get(parsed.channel)
          if (sender === undefined || parsed === undefined) {
            counters.unknownTargets++
            yield* count(parsed?.channel ?? "unknown", "unknown_target")
            yield* Effect.logError("no channel can deliver to this target").pipe(Effect.annotateLogs({ target }))
            return yield* new UnknownTarget({ target })
          }
          yield* sendWithRetry(sender, target, message).pipe(
            Effect.tapError((e) =>
              Effect.sync(() => counters.failed++).pipe(
                Effect.andThen(count(parsed.channel, "failed")),
                Effect.andThen(Effect.logError(e.message).pipe(Effect.annotateLogs({ target })))
              )
            )
          )
          counters.delivered++
          yield* count(parsed.channel, "delivered")
        }
      )

      const stats = Effect.sync(() => ({ channels: [...senders.keys()].sort(), ...counters }))
      return Router.of({ register, deliver, stats })
    })

  static readonly layer = Layer.effect(Router, Router.make({ attempts: 4, baseDelayMs: 500 }))
}
