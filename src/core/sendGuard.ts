// The Router's use of SendOnce (cluster mode): each message a request causes gets an idempotency key
// `<request id>/<step>` (its 1st, 2nd, … message), which a re-run of the turn on another daemon
// derives again; a send whose key is recorded as sent is skipped. Without SendOnce: plain sends; a
// channel that writes the key with the message itself (the shared inbox) is left to do so.
import { Effect, Option } from "effect"
import type { DeliveryFailed } from "../domain/errors.ts"
import type { Outbound } from "../domain/model.ts"
import type { SendOnce } from "./SendOnce.ts"

/** Requests whose step count is kept at once (the oldest is forgotten beyond it). */
const MAX_COUNTED = 10_000

/** Numbers the steps of each request (1, 2, …): a re-run of the turn numbers them the same way. */
export const makeSteps = () => {
  const steps = new Map<string, number>()
  return {
    /** `last`: the request's final step (its reply); its count is dropped. */
    next: (requestId: string, last = false) => {
      const step = (steps.get(requestId) ?? 0) + 1
      steps.delete(requestId)
      if (!last) steps.set(requestId, step)
      for (const [oldest] of steps) {
        if (steps.size <= MAX_COUNTED) break
        steps.delete(oldest)
      }
      return step
    }
  }
}

export const makeSendGuard = (once: Option.Option<SendOnce["Service"]>) => {
  const steps = makeSteps()

  /** The message with its idempotency key, when a cluster shares them and it belongs to a request. */
  const keyed = (message: Outbound): Outbound => {
    const id = message.requestId
    if (Option.isNone(once) || id === undefined || message.deliveryKey !== undefined) return message
    // A turn's last message (its reply) ends its count.
    const step = steps.next(id, message.kind === "reply" || message.kind === "error")
    return { ...message, deliveryKey: `${id}/${step}` }
  }

  const send = (
    sender: { readonly send: (target: string, message: Outbound) => Effect.Effect<void, DeliveryFailed>; readonly dedupes?: boolean | undefined },
    target: string,
    message: Outbound
  ): Effect.Effect<void, DeliveryFailed> => {
    const key = message.deliveryKey
    if (Option.isNone(once) || key === undefined || sender.dedupes === true) return sender.send(target, message)
    return Effect.gen(function*() {
      if (yield* once.value.sent(key)) {
        return yield* Effect.logInfo("not sent again: another run of this turn sent it").pipe(
          Effect.annotateLogs({ target, deliveryKey: key })
        )
      }
      yield* sender.send(target, message)
      yield* once.value.record(key)
    })
  }

  return { keyed, send }
}
