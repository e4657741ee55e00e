// The one front door for every channel: validates nothing itself (adapters decode their input),
// but answers control commands at once, records the request and queues it. A /stop cannot wait
// behind the turn it is meant to stop, so it never enters the queue.
import { Clock, Context, Effect, FiberSet, Layer, Option, Schedule } from "effect"
import { parseControl } from "../domain/commands.ts"
import { type HandoffFailed, type QueueFull, ShuttingDown, Unbound } from "../domain/errors.ts"
import { formatStatus } from "../domain/formatStatus.ts"
import type { Inbound, Priority } from "../domain/model.ts"
import { formatTraceparent } from "../domain/traceparent.ts"
import { Agents } from "../config/Agents.ts"
import { CommandQueue } from "./CommandQueue.ts"
import { Dispatcher } from "./Dispatcher.ts"
import { requestAttributes } from "./turnTrace.ts"
import { Questions } from "./Questions.ts"
import { RequestLog } from "./RequestLog.ts"
import { Router } from "./Router.ts"
import { Status } from "./Status.ts"
import { TurnHandoff } from "./TurnHandoff.ts"

export interface Submission {
  readonly id: string
  readonly source: string
  readonly text: string
  readonly priority?: Priority | undefined
  readonly sender?: string | undefined
  readonly relay?: Inbound["relay"]
  /**
   * A listener on this daemon waits for this turn's end (relays, alerts; Dispatcher.onTurnFinished).
   * In a cluster the turn may run elsewhere: its outcome is then brought back here.
   */
  readonly followed?: boolean | undefined
}

export type SubmitResult =
  | { readonly _tag: "Queued"; readonly id: string }
  | { readonly _tag: "Duplicate"; readonly id: string }
  | {
    readonly _tag: "Answered"
    readonly id: string
    readonly reply: string
    /** Set when the message answered the chat's pending question (`ask`). */
    readonly question?: string | undefined
  }

export class Intake extends Context.Service<Intake, {
  readonly submit: (submission: Submission) => Effect.Effect<SubmitResult, QueueFull | ShuttingDown | Unbound | HandoffFailed>
  /**
   * At a stop: interrupt answers still being delivered (a 429's retry-after can be long); the
   * answer is in the store's outbox already (write-ahead), so the next start sends it.
   */
  readonly settle: Effect.Effect<void>
}>()("switchboard/Intake") {
  static readonly layer = Layer.effect(
    Intake,
    Effect.gen(function*() {
      const queue = yield* CommandQueue
      const agents = yield* Agents
      const dispatcher = yield* Dispatcher
      const requests = yield* RequestLog
      const router = yield* Router
      const status = yield* Status
      // Optional: with the agent's `ask`, the next message from a chat with a pending question answers it.
      const questions = yield* Effect.serviceOption(Questions)
      // Cluster mode: the session's own daemon runs the turn; the request is stored in the cluster.
      const handoff = yield* Effect.serviceOption(TurnHandoff)

      // Answers of our own are delivered in the background: a channel that is slow to take them
      // (a Telegram 429) must not hold up its caller (Telegram's poll loop serves every chat).
      const background = yield* FiberSet.make()
      /** Answered without the queue: remembered for dedupe, recorded, and (unless `deliver` is off) sent. */
      const answer = (request: Inbound, text: string, deliver = true) =>
        Effect.gen(function*() {
          yield* queue.remember(request.id)
          yield* requests.queued(request)
          yield* requests.done(request.id, text)
          if (deliver) {
            yield* FiberSet.run(
              background,
              router.deliver(request.source, { kind: "reply", text, requestId: request.id }).pipe(Effect.ignore)
            )
          }
          return { _tag: "Answered", id: request.id, reply: text } as const
        })

      const submit = Effect.fn("inbound")(function*(s: Submission) {
        // An id seen within the dedupe window is a repeat, whatever it says: control commands and
        // answers do not go through the queue, so they are checked (and remembered) here too.
        if (yield* queue.isDuplicate(s.id)) return { _tag: "Duplicate", id: s.id } as const
        // A source no agent serves is refused before anything else, commands included.
        const ref = agents.resolve(s.source)
        if (ref === undefined) return yield* new Unbound({ source: s.source })
        const control = parseControl(s.text)
        const priority: Priority = control !== undefined ? "command" : s.priority ?? "human"
        const span = yield* Effect.currentSpan.pipe(Effect.option)
        const request: Inbound = {
          id: s.id,
          source: s.source,
          text: s.text,
          priority,
          receivedAt: yield* Clock.currentTimeMillis,
          ...(s.sender !== undefined ? { sender: s.sender } : {}),
          ...(s.relay !== undefined ? { relay: s.relay } : {}),
          ...(span._tag === "Some" ? { traceparent: formatTraceparent(span.value) } : {})
        }
        yield* Effect.annotateCurrentSpan(requestAttributes(request))

        if (control === "stop") {
          const stopped = Option.isSome(handoff)
            ? yield* handoff.value.stop(s.source, ref.key)
            : yield* dispatcher.abort(s.source)
          // The aborted turn answers for itself ("Stopped."); only say something when nothing ran.
          return yield* stopped
            ? answer(request, "Stopped the running turn.", false)
            : answer(request, "Nothing is running for this chat.")
        }
        if (control === "status") return yield* answer(request, formatStatus(yield* status.snapshot))

        // Only a person's message answers a question: a relay or automation event never does.
        if (Option.isSome(questions) && priority === "human") {
          const pending = yield* questions.value.pendingFor(s.source)
          // Acknowledged in the chat like any answer, so the person sees it was taken (chat CLI, Telegram).
          if (pending !== undefined && (yield* questions.value.answer(pending.id, s.text))) {
            return { ...(yield* answer(request, "Got it.")), question: pending.id }
          }
        }
        if (yield* dispatcher.stopping) return yield* new ShuttingDown()
        if (Option.isSome(handoff)) {
          // Acknowledged once the cluster has stored it; a repeat of the id is answered once (its primary key).
          yield* handoff.value.send(request, ref.key)
          if (s.followed === true) {
            yield* FiberSet.run(
              background,
              handoff.value.outcome(request, ref.key).pipe(
                Effect.retry({ times: 5, schedule: Schedule.exponential("1 second") }),
                Effect.flatMap((outcome) => dispatcher.finishedElsewhere(request, outcome)),
                Effect.catch((e) => Effect.logWarning(`the outcome of ${request.id} could not be read back: ${e.message}`))
              )
            )
          }
          yield* queue.remember(request.id)
          yield* requests.queued(request)
          yield* Effect.logInfo("request handed to its session").pipe(
            Effect.annotateLogs({ requestId: request.id, source: request.source, session: ref.key, priority })
          )
          return { _tag: "Queued", id: request.id } as const
        }
        const result = yield* queue.offer(request, requests.queued(request))
        if (result._tag === "Duplicate") return { _tag: "Duplicate", id: request.id } as const
        yield* Effect.logInfo("request queued").pipe(
          Effect.annotateLogs({ requestId: request.id, source: request.source, priority })
        )
        return { _tag: "Queued", id: request.id } as const
      })

      const settle = FiberSet.clear(background)

      return Intake.of({ submit, settle })
    })
  )
}
