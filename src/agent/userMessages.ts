// What the person is told when the model fails. Short, clear, and never silence. Pure.
import type { AiError } from "effect/ai"
import { timeoutKindOf } from "./model/errors.ts"

const attemptsText = (attempts: number) => (attempts > 1 ? ` after ${attempts} attempts` : "")

export const retryNoticeText = (e: AiError.AiError, delayMs: number): string => {
  const why = e.reason._tag === "RateLimitError" ? "rate limited" : e.reason._tag === "NetworkError" ? "unreachable" : "unavailable"
  return `The model is ${why} right now; I will retry in ${delayMs < 1000 ? "a moment" : `${Math.round(delayMs / 1000)} s`}.`
}

export const failureText = (e: AiError.AiError, attempts: number): string => {
  const timeout = timeoutKindOf(e)
  if (timeout?.kind === "first-token") return `The model did not start answering in time; it failed${attemptsText(attempts)}. Please try again later.`
  if (timeout?.kind === "total") return "The model took too long to answer and was stopped. Please try again, or ask for something smaller."
  switch (e.reason._tag) {
    case "RateLimitError":
      return `The model is rate limited; it failed${attemptsText(attempts)}. Please try again in a minute.`
    case "QuotaExhaustedError":
      return "The model provider's quota is used up; the operator needs to check the account."
    case "AuthenticationError":
      return "The model provider rejected our credentials; the operator needs to check OPENAI_API_KEY."
    case "NetworkError":
      return `I could not reach the model; it failed${attemptsText(attempts)}. Please try again later.`
    case "InternalProviderError":
      return `The model is unavailable; it failed${attemptsText(attempts)}. Please try again later.`
    case "InvalidRequestError":
      return "The model refused the request (it may be too long). Try /new to start a fresh conversation."
    case "ContentPolicyError":
      return "The model refused this request under its content policy."
    case "InvalidResponseError":
    case "InvalidOutputError":
      return "The model sent an answer I could not read. Please try again."
    default:
      return `The model failed (${e.reason._tag}). Please try again.`
  }
}

/** What to tell the person when the model ended its turn without a word; undefined: stay silent. */
export const emptyReplyText = (finishReason: string): string | undefined => {
  switch (finishReason) {
    case "content-filter":
      return "The model's provider blocked this reply (content filter). Try rephrasing."
    case "length":
      return "The model ran out of room before it answered (its output limit). Ask again, perhaps more briefly."
    default:
      // Servers name a normal end in their own words (eos, end_turn): silence, as for "stop".
      return undefined
  }
}
