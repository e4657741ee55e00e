// Multiple-choice questions the agent asks a chat (`ask` tool) and their answers. One pending
// question per source. Interface first; the agent work implements the layer.
import { randomUUID } from "node:crypto"
import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Schema } from "effect"
import { formatQuestion, matchAnswer } from "./askFormat.ts"
import { CurrentRequest } from "./CurrentRequest.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Router } from "./Router.ts"

export interface PendingQuestion {
  readonly id: string
  readonly source: string
  readonly question: string
  readonly options: ReadonlyArray<string>
  readonly askedAt: number
}

export type AskOutcome =
  | { readonly _tag: "Answered"; readonly answer: string; readonly optionIndex?: number | undefined }
  | { readonly _tag: "NoAnswer" }

export class QuestionPending extends Schema.TaggedError<QuestionPending>()("QuestionPending", {
  source: Schema.String,
  questionId: Schema.String
}) {
  override get message() {
    return `a question is already waiting for an answer in ${this.source}`
  }
}

export class Questions extends Context.Service<Questions, {
  /** Deliver the question to `source` and wait (with the configured timeout) for its answer. */
  readonly ask: (source: string, question: string, options: ReadonlyArray<string>) => Effect.Effect<AskOutcome, QuestionPending>
  /** Resolve by id (button press, POST /v1/answers/:id). False when unknown or already answered. */
  readonly answer: (questionId: string, answer: string) => Effect.Effect<boolean>
  /** The source a pending question was asked in (who may answer it), or undefined. */
  readonly sourceOf: (questionId: string) => Effect.Effect<string | undefined>
  /** The question waiting in `source`, if any: a free-text message from there answers it. */
  readonly pendingFor: (source: string) => Effect.Effect<PendingQuestion | undefined>
  /** Every question waiting for an answer (the dashboard shows exec approvals). */
  readonly pending: Effect.Effect<ReadonlyArray<PendingQuestion>>
}>()("switchboard/Questions") {
  /**
   * One pending question per source, each a Deferred the asking turn waits on. The question goes to
   * its source through the Router as `{ kind: "ask", text: numbered list, question: { id, options } }`,
   * so channels with buttons render the options and the others show the numbered list.
   */
  static readonly make = (options: { readonly timeout: Parameters<typeof Effect.timeoutOption>[1] }) =>
    Effect.gen(function*() {
      const router = yield* Router
      interface Entry {
        readonly pending: PendingQuestion
        readonly done: Deferred.Deferred<AskOutcome>
      }
      const bySource = new Map<string, Entry>()
      const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(options.timeout))
      const byId = new Map<string, Entry>()

      const ask = Effect.fn("questions.ask")(function*(source: string, question: string, choices: ReadonlyArray<string>) {
        const existing = bySource.get(source)
        if (existing !== undefined) {
          return yield* new QuestionPending({ source, questionId: existing.pending.id })
        }
        const pending: PendingQuestion = {
          id: `q-${randomUUID().slice(0, 12)}`,
          source,
          question,
          options: choices,
          askedAt: yield* Clock.currentTimeMillis
        }
        const entry: Entry = { pending, done: yield* Deferred.make<AskOutcome>() }
        yield* Effect.annotateCurrentSpan({ "switchboard.target": source, "switchboard.question_id": pending.id })
        const current = yield* CurrentRequest
        // However the ask ends (answer, timeout, /stop), a copy still waiting in the outbox is void.
        const forget = Effect.sync(() => {
          if (bySource.get(source) === entry) bySource.delete(source)
          byId.delete(pending.id)
        }).pipe(Effect.andThen(router.withdrawQuestion(pending.id)))
        return yield* Effect.gen(function*() {
          bySource.set(source, entry)
          byId.set(pending.id, entry)
          const delivered = yield* router.deliver(source, {
            kind: "ask",
            text: formatQuestion(question, choices),
            requestId: current?.id,
            question: { id: pending.id, options: choices },
            expiresAt: pending.askedAt + timeoutMs
          }, { explicit: current !== undefined && current.source !== source }).pipe(Effect.result)
          if (delivered._tag === "Failure") {
            yield* Effect.logWarning("could not deliver a question").pipe(
              Effect.annotateLogs({ source, error: delivered.failure.message })
            )
            return { _tag: "NoAnswer" } as const
          }
          const outcome = yield* Deferred.await(entry.done).pipe(Effect.timeoutOption(options.timeout))
          return Option.getOrElse(outcome, (): AskOutcome => ({ _tag: "NoAnswer" }))
        }).pipe(Effect.ensuring(forget))
      })

      const answer = (questionId: string, text: string) =>
        Effect.gen(function*() {
          const entry = byId.get(questionId)
          if (entry === undefined) return false
          const matched = matchAnswer(entry.pending.options, text)
          return yield* Deferred.succeed(entry.done, { _tag: "Answered", ...matched })
        })

      const pendingFor = (source: string) => Effect.sync(() => bySource.get(source)?.pending)

      const sourceOf = (questionId: string) => Effect.sync(() => byId.get(questionId)?.pending.source)

      const pending = Effect.sync(() => [...byId.values()].map((e) => e.pending))

      return Questions.of({ ask, answer, sourceOf, pendingFor, pending })
    })

  /** Timeout from `SWITCHBOARD_ASK_TIMEOUT`. */
  static readonly layer = Layer.effect(
    Questions,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      return yield* Questions.make({ timeout: config.model.askTimeout })
    })
  )
}
