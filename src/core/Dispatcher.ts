// One fiber takes the best request whose session is idle and runs it in its session (under that
// session's Semaphore(1)), with the request provided as CurrentRequest, then hands the reply to the
// Router with the request's own source as target. Sessions run side by side up to
// SWITCHBOARD_MAX_CONCURRENT_TURNS; each stays serial. Messages that arrive meanwhile wait in the
// queue: nobody is ever told "already processing".
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Fiber, FiberSet, Layer, Metric, Option, Scope, Semaphore } from "effect"
import { parseControl } from "../domain/commands.ts"
import type { SessionRef } from "../domain/agents.ts"
import { agentTurnDuration, agentTurns, queueWait, TURN_OUTCOMES, turnDuration, turns } from "../domain/metrics.ts"
import type { Inbound } from "../domain/model.ts"
import { CommandQueue, type QueuedItem } from "./CommandQueue.ts"
import { parentOf, recordQueueWait, requestAttributes } from "./turnTrace.ts"
import { replyFor, type TurnOutcome } from "./turnOutcome.ts"
import { Agents } from "../config/Agents.ts"
import { CurrentSession, withCurrentRequest } from "./CurrentRequest.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { RequestLog } from "./RequestLog.ts"
import { Router } from "./Router.ts"
import type { Session } from "./Session.ts"
import { Sessions } from "./Sessions.ts"
import { TurnEvents } from "./TurnEvents.ts"
import { TurnHandoff } from "./TurnHandoff.ts"
import { supervised } from "./supervised.ts"

export interface ActiveTurn {
  readonly id: string
  readonly source: string
  readonly priority: Inbound["priority"]
  readonly startedAt: number
  /** The session key (`<agent>/<conversation>`). */
  readonly session: string
}

export interface DispatcherStats {
  readonly turns: number
  readonly failed: number
  readonly aborted: number
  readonly timedOut: number
}

/** Called after each turn, before its queue item is completed (e.g. to consume relayed events). */
export type TurnListener = (request: Inbound, outcome: TurnOutcome) => Effect.Effect<void>

export class Dispatcher extends Context.Service<Dispatcher, {
  /** The longest-running turn, if any (every session's own: Sessions). */
  readonly active: Effect.Effect<ActiveTurn | undefined>
  /** Stop: take nothing new, give the running turn the grace period, then interrupt it. Idempotent. */
  readonly drain: Effect.Effect<void>
  readonly stopping: Effect.Effect<boolean>
  /** Listen to finished turns while the caller's scope lives. */
  readonly onTurnFinished: (listener: TurnListener) => Effect.Effect<void, never, Scope.Scope>
  /** Interrupt the running turns (only those serving `source`, when given). True if one was stopped. */
  readonly abort: (source?: string) => Effect.Effect<boolean>
  readonly stats: Effect.Effect<DispatcherStats>
  /**
   * Cluster mode: run one request now, outside the local queue (its session's entity mailbox made it
   * this session's turn). Interrupted when this daemon stops: the cluster runs it again elsewhere.
   */
  readonly runNow: (request: Inbound) => Effect.Effect<TurnOutcome>
  /**
   * Cluster mode: a request this daemon handed to its session finished on whichever daemon ran it;
   * the listeners here (relays, alerts) hear of it. runNow itself tells no listener.
   */
  readonly finishedElsewhere: (request: Inbound, outcome: TurnOutcome) => Effect.Effect<void>
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
      const sessions = yield* Sessions
      const agents = yield* Agents
      const router = yield* Router
      const requests = yield* RequestLog
      const events = yield* TurnEvents
      const handoff = yield* Effect.serviceOption(TurnHandoff)
      // Turns at once across sessions; each session's own Semaphore(1) (Sessions) keeps it serial.
      const slots = yield* Semaphore.make(config.agents.maxConcurrentTurns)
      // Every outcome is a series from the start: an alert on increase() sees the first failure.
      for (const outcome of TURN_OUTCOMES) {
        yield* Metric.update(Metric.withAttributes(turns, { outcome }), 0)
        for (const agent of agents.list) yield* Metric.update(Metric.withAttributes(agentTurns, { agent: agent.name, outcome }), 0)
      }
      const turnTimeout = config.turn.timeout
      const counters = { turns: 0, failed: 0, aborted: 0, timedOut: 0 }
      const listeners = new Set<TurnListener>()
      const state: {
        /** Running turns by request id. */
        active: Map<string, ActiveTurn & { fiber: Fiber.Fiber<unknown, unknown> }>
        /** Completed when the item being handled has been answered, one per item in hand. */
        handling: Set<Deferred.Deferred<void>>
        stopping: boolean
      } = { active: new Map(), handling: new Set(), stopping: false }
      /** Session keys with an item in hand: `take` passes over their requests. */
      const busy = new Set<string>()
      const turnFibers = yield* FiberSet.make()

      const runTurn = (request: Inbound, session: Session["Service"]): Effect.Effect<TurnOutcome> => {
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

      /** Where an item came from: the local queue, or a cluster entity's mailbox (which keeps it). */
      interface Holder {
        readonly putBack: (item: QueuedItem) => Effect.Effect<void>
        readonly complete: (item: QueuedItem) => Effect.Effect<void>
        /** The listeners of this daemon are told (not for a mailbox's item: its submitter tells its own). */
        readonly tell: boolean
      }
      const local: Holder = { putBack: queue.putBack, complete: queue.complete, tell: true }
      // Stopping: the entity's message must stay unprocessed in the cluster's storage, so its handler
      // never returns; the cluster interrupts it when this runner lets its shards go, and the next
      // owner runs it again. `done` tells drain this item needs nothing more from it.
      const mailbox = (done: Deferred.Deferred<void>): Holder => ({
        putBack: () => Effect.andThen(Deferred.succeed(done, undefined), Effect.never),
        complete: () => Effect.void,
        tell: false
      })

      const tell = (request: Inbound, outcome: TurnOutcome) =>
        Effect.forEach(listeners, (listener) =>
          listener(request, outcome).pipe(Effect.catchCause((cause) => Effect.logError("turn listener failed", cause))), { discard: true })

      /** The reply, the request log, the listeners, then the holder forgets the item. */
      const conclude = (item: QueuedItem, outcome: TurnOutcome, holder: Holder) =>
        Effect.gen(function*() {
          const request = item.request
          if (outcome._tag === "ShutDown") {
            // Cut off by a stop: like a crash, the request stays in the store and runs again at the
            // next start. Nothing is said now; the sender gets the reply of that run.
            yield* requests.failed(request.id, "switchboard stopped during this turn; it runs again at the next start")
            return yield* holder.putBack(item)
          }
          const reply = replyFor(request, outcome, turnTimeout)
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
          if (holder.tell) yield* tell(request, outcome)
          yield* holder.complete(item)
        })

      /** One turn in its open session (the session's permit is held by the caller). */
      const turnIn = (item: QueuedItem, ref: SessionRef, session: Session["Service"], holder: Holder) => {
        const request = item.request
        return Effect.gen(function*() {
          const startedAt = yield* Clock.currentTimeMillis
          yield* Metric.update(queueWait, (startedAt - item.enqueuedAt) / 1000)
          yield* Effect.annotateCurrentSpan("switchboard.queue_wait_ms", startedAt - item.enqueuedAt)
          yield* recordQueueWait(item, startedAt)
          yield* requests.running(request.id)
          const fiber = yield* Effect.forkChild(runTurn(request, session))
          state.active.set(request.id, {
            id: request.id,
            source: request.source,
            priority: request.priority,
            startedAt,
            session: ref.key,
            fiber
          })
          yield* sessions.turnStarted(ref.key, { id: request.id, source: request.source, startedAt })
          const turn = { requestId: request.id, source: request.source, priority: request.priority }
          yield* events.publish({ _tag: "TurnStarted", ...turn, at: startedAt })
          const exit = yield* Fiber.await(fiber)
          state.active.delete(request.id)
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
          const durationMs = finishedAt - startedAt
          yield* events.publish({ _tag: "TurnFinished", ...turn, outcome: outcome._tag, at: finishedAt, durationMs })
          yield* sessions.turnFinished(ref.key, { id: request.id, source: request.source, startedAt, outcome: outcome._tag, durationMs })
          counters.turns++
          if (outcome._tag === "Failed") counters.failed++
          if (outcome._tag === "Aborted") counters.aborted++
          if (outcome._tag === "TimedOut") counters.timedOut++
          yield* Metric.update(turnDuration, durationMs / 1000)
          yield* Metric.update(Metric.withAttributes(turns, { outcome: outcome._tag }), 1)
          yield* Metric.update(Metric.withAttributes(agentTurnDuration, { agent: ref.agent }), durationMs / 1000)
          yield* Metric.update(Metric.withAttributes(agentTurns, { agent: ref.agent, outcome: outcome._tag }), 1)
          yield* Effect.annotateCurrentSpan("switchboard.outcome", outcome._tag)
          yield* Effect.logInfo("turn finished").pipe(Effect.annotateLogs({ outcome: outcome._tag, durationMs }))
          yield* conclude(item, outcome, holder)
          return outcome
        }).pipe(Effect.provideService(CurrentSession, ref))
      }

      const handle = (item: QueuedItem, holder: Holder = local) => {
        const request = item.request
        const ref = sessions.refOf(request)
        const failed = (reason: string, userMessage: string) =>
          Effect.as(conclude(item, { _tag: "Failed", reason, userMessage }, holder), { _tag: "Failed", reason, userMessage } as TurnOutcome)
        return (ref === undefined
          // Kept from a run whose agents file bound its source; no agent serves it now.
          ? failed("unbound", `No agent is bound to ${request.source} any more; this was not answered.`)
          : sessions.withSession(ref, (open) => turnIn(item, ref, open.session, holder)).pipe(
            Effect.catchTag("SessionUnavailable", (e) =>
              Effect.logError("session unavailable").pipe(
                Effect.annotateLogs({ error: e.message }),
                Effect.andThen(failed(e.message, "I could not open this conversation (the daemon log has the details)."))
              ))
          )).pipe(
            withCurrentRequest(request),
            Effect.annotateLogs({ requestId: request.id, source: request.source, session: ref?.key ?? "" }),
            Effect.withSpan("dispatch", {
              attributes: { ...requestAttributes(request), "switchboard.session": ref?.key ?? "" },
              parent: parentOf(request)
            })
          )
      }

      const handleTracked = (item: QueuedItem) =>
        Effect.gen(function*() {
          const done = yield* Deferred.make<void>()
          state.handling.add(done)
          yield* handle(item).pipe(
            // Whatever goes wrong with one item, the queue keeps moving.
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.logError("dispatch crashed", cause)
            ),
            Effect.ensuring(Effect.andThen(Deferred.succeed(done, undefined), Effect.sync(() => state.handling.delete(done))))
          )
        })

      // Take a slot, then the best item whose session has nothing in hand; run it beside the others.
      const next = Effect.gen(function*() {
        yield* slots.take(1)
        const item = yield* queue.takeWhere((i) => !busy.has(sessions.keyOf(i.request)))
        if (state.stopping) {
          // Shutting down: hand the item back (it is kept for the next start) and wait to be stopped.
          yield* queue.putBack(item)
          return yield* Effect.never
        }
        const key = sessions.keyOf(item.request)
        busy.add(key)
        yield* FiberSet.run(
          turnFibers,
          handleTracked(item).pipe(
            Effect.ensuring(Effect.gen(function*() {
              busy.delete(key)
              yield* slots.release(1)
              yield* queue.recheck
            }))
          )
        )
      })
      // Cluster mode: turns come through runNow (the session entities), so the local queue holds only
      // what a run before cluster mode kept: it is handed to the sessions, and takes no turn slot (a
      // slot held while waiting on an empty queue would leave N - 1 turns at once).
      const handOver = (h: TurnHandoff["Service"]) =>
        Effect.gen(function*() {
          const item = yield* queue.take
          const ref = sessions.refOf(item.request)
          if (state.stopping) return yield* Effect.andThen(queue.putBack(item), Effect.never)
          if (ref === undefined) return yield* handle(item)
          yield* h.send(item.request, ref.key).pipe(Effect.tapError(() => queue.putBack(item)))
          yield* queue.complete(item)
        })
      const loop = yield* (Option.isSome(handoff) ? handOver(handoff.value) : next).pipe(
        Effect.forever,
        supervised({ name: "dispatcher" }),
        Effect.forkDetach
      )

      const oldestFirst = () => [...state.active.values()].sort((a, b) => a.startedAt - b.startedAt)
      const publicTurn = (a: ActiveTurn): ActiveTurn => ({
        id: a.id,
        source: a.source,
        priority: a.priority,
        startedAt: a.startedAt,
        session: a.session
      })

      // Graceful stop: take nothing new, let the running turns finish within the grace period,
      // otherwise interrupt them (their senders are told), then stop the loop. Idempotent.
      const drained = yield* Deferred.make<void>()
      const drain = Effect.suspend(() => {
        if (state.stopping) return Deferred.await(drained)
        state.stopping = true
        return Effect.gen(function*() {
          const running = oldestFirst()
          const first = running[0]
          yield* Effect.logInfo(
            first === undefined
              ? "stopping: no new work is taken"
              : `stopping: no new work is taken; the running turn has ${Duration.format(config.turn.shutdownGrace)} to finish`
          ).pipe(Effect.annotateLogs(first === undefined ? {} : {
            requestId: running.map((a) => a.id).join(","),
            source: running.map((a) => a.source).join(",")
          }))
          if (running.length > 0) {
            const finished = yield* Effect.forEach(running, (a) => Fiber.await(a.fiber), { concurrency: "unbounded", discard: true })
              .pipe(Effect.timeoutOption(config.turn.shutdownGrace))
            if (Option.isNone(finished)) {
              yield* Effect.forEach(oldestFirst(), (a) => Fiber.interrupt(a.fiber), { concurrency: "unbounded", discard: true })
            }
          }
          if (state.handling.size > 0) {
            yield* Effect.forEach([...state.handling], (d) => Deferred.await(d), { concurrency: "unbounded", discard: true })
              .pipe(Effect.timeoutOption("5 seconds"))
          }
          // A delivery still waiting (a retry-after) is interrupted now: the Router keeps it in its outbox.
          yield* FiberSet.clear(turnFibers)
          yield* Fiber.interrupt(loop)
        }).pipe(Effect.ensuring(Deferred.succeed(drained, undefined)))
      })
      yield* Effect.addFinalizer(() => drain)

      const abort = (source?: string) =>
        Effect.suspend(() => {
          const targets = [...state.active.values()].filter((a) => source === undefined || a.source === source)
          if (targets.length === 0) return Effect.succeed(false)
          return Effect.as(Effect.forEach(targets, (a) => Fiber.interrupt(a.fiber), { concurrency: "unbounded", discard: true }), true)
        })

      const runNow = (request: Inbound) =>
        Effect.gen(function*() {
          if (state.stopping) return yield* Effect.never
          // This daemon may not be the one that accepted it: its record starts here too.
          yield* requests.queued(request)
          const done = yield* Deferred.make<void>()
          return yield* slots.withPermits(1)(
            Effect.suspend(() => {
              // A stop began while it waited for a slot: it stays in the cluster's storage.
              if (state.stopping) return Effect.never
              state.handling.add(done)
              return handle({ request, seq: -1, enqueuedAt: request.receivedAt }, mailbox(done))
            }).pipe(
              Effect.catchCause((cause) =>
                Cause.hasInterruptsOnly(cause)
                  ? Effect.interrupt
                  : Effect.as(Effect.logError("dispatch crashed", cause), {
                    _tag: "Failed",
                    reason: "crashed",
                    userMessage: "Something went wrong while handling this (the daemon log has the details)."
                  } as TurnOutcome)
              )
            )
          ).pipe(Effect.ensuring(Effect.andThen(Deferred.succeed(done, undefined), Effect.sync(() => state.handling.delete(done)))))
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
          const a = oldestFirst()[0]
          return a && publicTurn(a)
        }),
        abort,
        stats: Effect.sync(() => ({ ...counters })),
        runNow,
        finishedElsewhere: tell
      })
    })
  )
}
