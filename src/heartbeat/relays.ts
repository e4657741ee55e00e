// Relays of system events: a wake for a session key with pending events becomes one `relay`
// request for that key (one at a time per key); the events it showed are consumed only when that
// turn replied, and a failed relay is retried for its own key with a backoff. The runner installs
// `handleWake` and registers `onTurnFinished` for the layer's life, so relays survive a replacement.
import { randomUUID } from "node:crypto"
import { Duration, Effect, Metric } from "effect"
import type { Intake } from "../core/Intake.ts"
import type { TurnListener } from "../core/Dispatcher.ts"
import type { HeartbeatWake, Wake, WakeOutcome } from "./HeartbeatWake.ts"
import { relays, relaysQueued } from "./metrics.ts"
import { formatRelayPrompt } from "./relayPrompt.ts"
import type { SystemEvents } from "./SystemEvents.ts"
import { relayRetryDelay } from "./wakePolicy.ts"

export interface RelayDeps {
  readonly intake: Intake["Service"]
  readonly events: SystemEvents["Service"]
  readonly wake: HeartbeatWake["Service"]
  /** The current runner's base retry delay (it changes on reload). */
  readonly retryDelay: () => Duration.Duration
}

export const makeRelays = (deps: RelayDeps) => {
  const { intake, events, wake } = deps
  const relaysInFlight = new Map<string, string>() // session key → relay request id
  const relayCounts = { sent: 0, replied: 0, failed: 0 }
  const relayFailures = new Map<string, number>() // session key → failed relays in a row

    const handleWake = (wake: Wake): Effect.Effect<WakeOutcome> =>
      Effect.gen(function*() {
        const key = wake.sessionKey
        // Without a key there is nobody to relay to; the interval's own work never needs a wake.
        if (key === undefined) return "Skipped"
        // One relay per key at a time; the retry brings the events that arrive meanwhile.
        if (relaysInFlight.has(key)) return "Busy"
        const pending = yield* events.peek(key)
        if (pending.length === 0) return "Skipped"
        const id = `relay-${randomUUID()}`
        relaysInFlight.set(key, id)
        const submitted = yield* intake.submit({
          id,
          source: key,
          text: formatRelayPrompt(key, pending),
          priority: "relay",
          relay: { sessionKey: key, eventIds: pending.map((e) => e.id) },
          followed: true // its events are consumed here, where they are kept
        }).pipe(Effect.result)
        if (submitted._tag === "Failure" || submitted.success._tag !== "Queued") {
          relaysInFlight.delete(key)
          if (submitted._tag === "Failure" && submitted.failure._tag === "Unbound") {
            // No agent serves that chat: retrying cannot help; the events stay pending.
            yield* Effect.logWarning("relay not queued: no agent is bound to its chat").pipe(Effect.annotateLogs({ sessionKey: key }))
            return "Skipped"
          }
          if (submitted._tag === "Failure") {
            yield* Effect.logWarning("relay not queued; will retry").pipe(Effect.annotateLogs({ reason: submitted.failure.message }))
            return "Busy"
          }
          return "Skipped"
        }
        relayCounts.sent++
        yield* Metric.update(relaysQueued, 1)
        yield* Effect.logInfo("relay queued").pipe(
          Effect.annotateLogs({ requestId: id, events: pending.length, reason: wake.reason })
        )
        return "Ran"
      }).pipe(Effect.annotateLogs({ source: wake.sessionKey ?? "", wakeReason: wake.reason }))

    // Consume what a relay showed only once it replied; a failed relay keeps its events.
    const onTurnFinished: TurnListener = (request, outcome) =>
      Effect.gen(function*() {
        const relay = request.relay
        if (relay === undefined) return
        if (relaysInFlight.get(relay.sessionKey) === request.id) relaysInFlight.delete(relay.sessionKey)
        if (outcome._tag === "Replied") {
          yield* events.consume(relay.sessionKey, relay.eventIds)
          relayFailures.delete(relay.sessionKey)
          relayCounts.replied++
        } else {
          relayCounts.failed++
          // Nothing else would wake this chat again: retry the relay with a backoff, unless a
          // person stopped it or the daemon is stopping. After the last try the events wait
          // for the next wake (a new event, a manual wake).
          const failures = (relayFailures.get(relay.sessionKey) ?? 0) + 1
          const retry = outcome._tag === "Failed" || outcome._tag === "TimedOut"
            ? relayRetryDelay(failures, deps.retryDelay())
            : undefined
          if (retry === undefined) relayFailures.delete(relay.sessionKey)
          else relayFailures.set(relay.sessionKey, failures)
          yield* Effect.logWarning(
            retry === undefined
              ? "relay turn did not complete; its events stay for the next wake"
              : `relay turn did not complete; retrying in ${Duration.format(retry)}`
          ).pipe(
            Effect.annotateLogs({ requestId: request.id, source: relay.sessionKey, outcome: outcome._tag, failures })
          )
          if (retry !== undefined) {
            yield* wake.request({ reason: "retry", sessionKey: relay.sessionKey, coalesce: retry })
          }
        }
        yield* Metric.update(Metric.withAttributes(relays, { outcome: outcome._tag }), 1)
      })

  return {
    handleWake,
    onTurnFinished,
    inFlight: () => [...relaysInFlight.keys()],
    counts: () => ({ ...relayCounts })
  }
}
