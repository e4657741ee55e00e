// What every chat channel does with a person's message once it is allowed and decoded: hand it to
// Intake (which dedupes it by the channel's own id, answers /stop and /status, and matches a typed
// answer to an open question) and act on the result the same way everywhere — a refusal (queue
// full, shutting down) is said in the chat, a duplicate is counted, a typed answer closes the
// question's buttons. Each channel supplies only what is its own: how to count, reply and close.
import { Effect } from "effect"
import type { Intake, Submission } from "../core/Intake.ts"

export interface HandOver {
  readonly intake: Intake["Service"]
  /** Count an inbound outcome: "refused", "duplicate", or `acceptedAs`. */
  readonly counted: (kind: string) => Effect.Effect<void>
  /** A reply of the channel's own (not the agent's) in the message's chat. */
  readonly reply: (source: string, text: string) => Effect.Effect<void>
  /** Remove or disable the buttons of a question that a typed answer just closed. */
  readonly closeButtons: (questionId: string) => Effect.Effect<void>
}

/** `answered`: Intake answered it at once (a command, or a typed answer to a question). */
export type HandOverOutcome = "refused" | "duplicate" | "queued" | "answered"

export const handOver = Effect.fnUntraced(function*(h: HandOver, submission: Submission, acceptedAs = "text") {
  const result = yield* h.intake.submit(submission).pipe(Effect.result)
  if (result._tag === "Failure") {
    yield* h.counted("refused")
    yield* h.reply(submission.source, `I can't take that right now: ${result.failure.message}.`)
    return "refused" as HandOverOutcome
  }
  if (result.success._tag === "Duplicate") {
    yield* h.counted("duplicate")
    return "duplicate" as HandOverOutcome
  }
  yield* h.counted(acceptedAs)
  if (result.success._tag === "Answered") {
    if (result.success.question !== undefined) yield* h.closeButtons(result.success.question)
    return "answered" as HandOverOutcome
  }
  return "queued" as HandOverOutcome
})
