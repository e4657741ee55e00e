// One fiber that takes the next request and runs it through the Session under a Semaphore(1),
// with the request provided as CurrentRequest, then hands the reply to the Router with the
// request's own source as target. Messages that arrive meanwhile wait in the queue: nobody is
// ever told "already processing".
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Metric, Option, Scope, Semaphore, Tracer } from "effect"
import { parseControl } from "../domain/commands.ts"
import { queueWait, TURN_OUTCOMES, turnDuration, turns } from "../domain/metrics.ts"
import { type Inbound, isSilent, type OutboundKind } from "../domain/model.ts"
import { parseTraceparent } from "../domain/traceparent.ts"
import { CommandQueue, type QueuedItem } from "./CommandQueue.ts"
import { withCurrentRequest } from "./CurrentRequest.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { RequestLog } from "./RequestLog.ts"
import { Router } from "./Router.ts"
import { Session } from "./Session.ts"
import { TurnEvents } from "./TurnEvents.ts"
import { supervised } from "./supervised.ts"

export interface ActiveTurn {
  readonly id: string
  readonly source: string
  readonly priority: Inbound["priority"]
  readonly startedAt: number
}

export type TurnOutcome =
  | { readonly _tag: "Replied"; readonly text: string }
  | { readonly _tag: "Failed"; readonly reason: string; readonly userMessage: string }
  | { readonly _tag: "Aborted" }
  | { readonly _tag: "TimedOut" }
  | { readonly _tag: "ShutDown" }

export interface DispatcherStats {
  readonly turns: number
  readonly failed: number
  readonly aborted: number
  readonly timedOut: number
}

export const requestAttributes = (r: Inbound) => ({
  "switchboard.source": r.source,
  "switchboard.request_id": r.id,
  "switchboard.priority": r.priority
})

const parentOf = (r: Inbound): Tracer.AnySpan | undefined => {
  const ids = parseTraceparent(r.traceparent)
  return ids && Tracer.externalSpan(ids)
}

/** Called after each turn, before its queue item is completed (e.g. to consume relayed events). */
export type TurnListener = (request: Inbound, outcome: TurnOutcome) => Effect.Effect<void>

/**
 * The time an item spent queued, as a span after the fact (a span cannot cross the queue; its
 * start time can). A sibling of the dispatch span under the request's inbound span.
 */
const recordQueueWait = (item: QueuedItem, startedAt: number) =>
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    const current = yield* Effect.currentSpan.pipe(Effect.option)
    const parent = Option.orElse(Option.fromNullishOr(parentOf(item.request)), () => current)
    const span = tracer.span({
      name: "queue.wait",
      parent,
      annotations: Context.empty(),
      links: [],
      startTime: BigInt(item.enqueuedAt) * 1_000_000n,
      kind: "internal",
      root: Option.isNone(parent),
      sampled: Option.match(current, { onNone: () => true, onSome: (s) => s.sampled })
    })
    for (const [k, v] of Object.entries(requestAttributes(item.request))) span.attribute(k, v)
    span.end(BigInt(startedAt) * 1_000_000n, Exit.void)
  })

export class Dispatcher extends Context.Service<Dispatcher, {
  readonly active: Effect.Effect<ActiveTurn | undefined>
  /** Stop: take nothing new, give the running turn the grace period, then interrupt it. Idempotent. */
  readonly drain: Effect.Effect<void>
  readonly stopping: Effect.Effect<boolean>
  /** Listen to finished turns while the caller's scope lives. */
  readonly onTurnFinished: (listener: TurnListener) => Effect.Effect<void, never, Scope.Scope>
  /** Interrupt the running turn (only if it serves `source`, when given). True if one was stopped. */
  readonly abort: (source?: string) => Effect.Effect<boolean>
  readonly stats: Effect.Effect<DispatcherStats>
}>()("switchboard/Dispatcher") {
  /**
   * Drains the dispatcher first when the daemon stops, while channels can still deliver. Compose it
   * above everything else: its finalizer then runs before any channel closes.
   */
  static readonly drainOnStop = Layer.effectDiscard(
    Effect.flatMap(Effect.service(Dispatcher), (d) => Effect.addFinalizer(() => d.drain))
  )

  static readonly layer = Layer.effect(
    Dispatcher,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const queue = yield* CommandQueue
      const session = yield* Session
      const router = yield* Router
      const requests = yield* RequestLog
      const events = yield* TurnEvents
      const lock = yield* Semaphore.make(1)
      // Every outcome is a series from the start: an alert on increase() sees the first failure.
      for (const outcome of TURN_OUTCOMES) yield* Metric.update(Metric.withAttributes(turns, { outcome }), 0)
      const turnTimeout = config.turn.timeout
      const counters = { turns: 0, failed: 0, aborted: 0, timedOut: 0 }
      const listeners = new Set<TurnListener>()
      const state: {
        active: (ActiveTurn & { fiber: Fiber.Fiber<unknown, unknown> }) | undefined
        /** Completed when the item being handled has been answered. */
        handling: Deferred.Deferred<void> | undefined
        stopping: boolean
      } = { active: undefined, handling: undefined, stopping: false }

      const runTurn = (request: Inbound): Effect.Effect<TurnOutcome> => {
        const control = parseControl(request.text)
        if (control === "new") {
          return Effect.as(session.reset, { _tag: "Replied", text: "Started a new conversation." } as const)
        }
        return session.prompt(request).pipe(
          Effect.timeoutOption(turnTimeout),
          Effect.map((o): TurnOutcome =>
            Option.isSome(o) ? { _tag: "Replied", text: o.value.text } : { _tag: "TimedOut" }
          ),
          Effect.catchTag("TurnFailed", (e) =>
            Effect.succeed<TurnOutcome>({ _tag: "Failed", reason: e.reason, userMessage: e.userMessage })),
          Effect.withSpan("session.turn", { attributes: requestAttributes(request) })
        )
      }

      const replyFor = (request: Inbound, outcome: TurnOutcome): { kind: OutboundKind; text: string } | undefined => {
        switch (outcome._tag) {
          case "Replied":
            return isSilent(outcome.text)
              ? undefined
              : { kind: request.relay !== undefined ? "relay" : "reply", text: outcome.text }
          case "Failed":
            return { kind: "error", text: outcome.userMessage }
          case "Aborted":
            return { kind: "error", text: "Stopped." }
          case "TimedOut":
            return {
              kind: "error",
              text: `That took longer than ${Duration.format(turnTimeout)} and was stopped.`
            }
          case "ShutDown":
            return undefined // handled before: it runs again at the next start
        }
      }

      const handle = (item: QueuedItem) => {
        const request = item.request
        return Effect.gen(function*() {
          const startedAt = yield* Clock.currentTimeMillis
          yield* Metric.update(queueWait, (startedAt - item.enqueuedAt) / 1000)
          yield* Effect.annotateCurrentSpan("switchboard.queue_wait_ms", startedAt - item.enqueuedAt)
          yield* recordQueueWait(item, startedAt)
          yield* requests.running(request.id)
          const fiber = yield* Effect.forkChild(runTurn(request))
          state.active = { id: request.id, source: request.source, priority: request.priority, startedAt, fiber }
          const turn = { requestId: request.id, source: request.source, priority: request.priority }
          yield* events.publish({ _tag: "TurnStarted", ...turn, at: startedAt })
          const exit = yield* Fiber.await(fiber)
          state.active = undefined
          if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
            // A bug in the session or a tool: not a stop. Logged with its cause; the sender is told.
            yield* Effect.logError("turn crashed", exit.cause)
          }
          const outcome: TurnOutcome = Exit.isSuccess(exit)
            ? exit.value
            : Cause.hasInterruptsOnly(exit.cause)
            ? { _tag: state.stopping ? "ShutDown" : "Aborted" }
            : { _tag: "Failed", reason: "crashed", userMessage: "Something went wrong while handling this (the daemon log has the details)." }
          const finishedAt = yield* Clock.currentTimeMillis
          yield* events.publish({
            _tag: "TurnFinished",
            ...turn,
            outcome: outcome._tag,
            at: finishedAt,
            durationMs: finishedAt - startedAt
          })
          counters.turns++
          if (outcome._tag === "Failed") counters.failed++
          if (outcome._tag === "Aborted") counters.aborted++
          if (outcome._tag === "TimedOut") counters.timedOut++
          yield* Metric.update(turnDuration, (finishedAt - startedAt) / 1000)
          yield* Metric.update(Metric.withAttributes(turns, { outcome: outcome._tag }), 1)
          yield* Effect.annotateCurrentSpan("switchboard.outcome", outcome._tag)
          yield* Effect.logInfo("turn finished").pipe(
            Effect.annotateLogs({ outcome: outcome._tag, durationMs: finishedAt - startedAt })
          )

          if (outcome._tag === "ShutDown") {
            // Cut off by a stop: like a crash, the request stays in the store and runs again at the
            // next start. Nothing is said now; the sender gets the reply of that run.
            yield* requests.failed(request.id, "switchboard stopped during this turn; it runs again at the next start")
            return yield* queue.putBack(item)
          }
          const reply = replyFor(request, outcome)
          if (reply !== undefined) {
            // The Router logs and counts failed deliveries; a crashing sender must not stop the queue.
            // Committing the reply to the outbox removes the request from the store, in one transaction.
            yield* router.deliver(request.source, { ...reply, requestId: request.id }, { settles: request.id }).pipe(
              Effect.catchCause((cause) =>
                Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError("delivery crashed", cause)
              )
            )
          }
          yield* outcome._tag === "Replied"
            ? requests.done(request.id, outcome.text)
            : requests.failed(request.id, reply?.text ?? outcome._tag)
          for (const listener of listeners) {
            yield* listener(request, outcome).pipe(
              Effect.catchCause((cause) => Effect.logError("turn listener failed", cause))
            )
          }
          yield* queue.complete(item)
        }).pipe(
          lock.withPermit,
          withCurrentRequest(request),
          Effect.annotateLogs({ requestId: request.id, source: request.source }),
          Effect.withSpan("dispatch", { attributes: requestAttributes(request), parent: parentOf(request) })
        )
      }

      const handleTracked = (item: QueuedItem) =>
        state.stopping
          // Shutting down: hand the item back (it is kept for the next start) and wait to be stopped.
          ? Effect.andThen(queue.putBack(item), Effect.never)
          : Effect.gen(function*() {
            const done = yield* Deferred.make<void>()
            state.handling = done
            yield* handle(item).pipe(
              // Whatever goes wrong with one item, the queue keeps moving.
              Effect.catchCause((cause) =>
                Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError("dispatch crashed", cause)
              ),
              Effect.ensuring(Deferred.succeed(done, undefined))
            )
          })
      const loop = yield* queue.take.pipe(
        Effect.flatMap(handleTracked),
        Effect.forever,
        supervised({ name: "dispatcher" }),
        Effect.forkDetach
      )

      // Graceful stop: take nothing new, let the running turn finish within the grace period,
      // otherwise interrupt it (its sender is told), then stop the loop. Idempotent.
      const drained = yield* Deferred.make<void>()
      const drain = Effect.suspend(() => {
        if (state.stopping) return Deferred.await(drained)
        state.stopping = true
        return Effect.gen(function*() {
          const active = state.active
          yield* Effect.logInfo(
            active === undefined
              ? "stopping: no new work is taken"
              : `stopping: no new work is taken; the running turn has ${Duration.format(config.turn.shutdownGrace)} to finish`
          ).pipe(Effect.annotateLogs(active === undefined ? {} : { requestId: active.id, source: active.source }))
          if (active !== undefined) {
            const finished = yield* Fiber.await(active.fiber).pipe(Effect.timeoutOption(config.turn.shutdownGrace))
            if (Option.isNone(finished)) yield* Fiber.interrupt(active.fiber)
          }
          if (state.handling !== undefined) {
            yield* Deferred.await(state.handling).pipe(Effect.timeoutOption("5 seconds"))
          }
          yield* Fiber.interrupt(loop)
        }).pipe(Effect.ensuring(Deferred.succeed(drained, undefined)))
      })
      yield* Effect.addFinalizer(() => drain)

      const abort = (source?: string) =>
        Effect.suspend(() => {
          const active = state.active
          if (active === undefined || (source !== undefined && active.source !== source)) return Effect.succeed(false)
          return Effect.as(Fiber.interrupt(active.fiber), true)
        })

      const onTurnFinished = (listener: TurnListener) =>
        Effect.acquireRelease(
          Effect.sync(() => listeners.add(listener)),
          () => Effect.sync(() => listeners.delete(listener))
        ).pipe(Effect.asVoid)

      return Dispatcher.of({
        onTurnFinished,
        drain,
        stopping: Effect.sync(() => state.stopping),
        active: Effect.sync(() => {
          const a = state.active
          return a && { id: a.id, source: a.source, priority: a.priority, startedAt: a.startedAt }
        }),
        abort,
        stats: Effect.sync(() => ({ ...counters }))
      })
    })
  )
}
