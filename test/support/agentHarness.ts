// Shared setup for the agent tests: config pointed at the fake chat/completions server, small
// test layers for SystemEvents and HeartbeatWake, and the agent composed into the core graph.
import { Duration, Effect, Layer, Option } from "effect"
import type { GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { HeartbeatWake, type WakeRequest } from "../../src/heartbeat/HeartbeatWake.ts"
import { type SystemEvent, SystemEvents } from "../../src/heartbeat/SystemEvents.ts"

export type Patch = (s: GatewaySettings) => GatewaySettings

/** Fast settings for tests: small delays and timeouts, the fake as the provider. */
export const agentSettings = (baseUrl: string, stateDir: string, patch: Patch = (s) => s): Patch => (s) =>
  patch({
    ...s,
    stateDir,
    model: {
      ...s.model,
      provider: "openai",
      name: "primary-model",
      baseUrl,
      firstTokenTimeout: Duration.seconds(2),
      requestTimeout: Duration.seconds(10),
      attempts: 3,
      retryBaseDelay: Duration.millis(10),
      retryMaxDelay: Duration.seconds(2),
      askTimeout: Duration.seconds(5)
    }
  })

export const withFallback = (patch: Patch = (s) => s): Patch => (s) =>
  patch({
    ...s,
    model: {
      ...s.model,
      fallback: { ...s.model.fallback, name: Option.some("fallback-model"), after: 2, probeEvery: Duration.millis(100) }
    }
  })

/** Recording SystemEvents / HeartbeatWake stand-ins (the real ones belong to the heartbeat work). */
export interface Recorded {
  readonly events: Array<SystemEvent>
  readonly wakes: Array<WakeRequest>
}

export const recordingHeartbeat = (recorded: Recorded) =>
  Layer.mergeAll(
    Layer.succeed(
      SystemEvents,
      // Only what the agent uses; the rest of the interface belongs to the heartbeat work.
      ({
        enqueue: (sessionKey: string, text: string, options?: { contextKey?: string; trusted?: boolean }) =>
          Effect.sync(() => {
            const event: SystemEvent = {
              id: String(recorded.events.length + 1),
              sessionKey,
              text,
              contextKey: options?.contextKey,
              trusted: options?.trusted ?? true,
              at: Date.now()
            }
            recorded.events.push(event)
            return event
          }),
        peek: (key: string) => Effect.sync(() => recorded.events.filter((e) => e.sessionKey === key)),
        consume: () => Effect.void,
        drain: (key: string) => Effect.sync(() => recorded.events.filter((e) => e.sessionKey === key))
      }) as unknown as SystemEvents["Service"]
    ),
    Layer.succeed(
      HeartbeatWake,
      ({ request: (r: WakeRequest) => Effect.sync(() => void recorded.wakes.push(r)) }) as unknown as HeartbeatWake["Service"]
    )
  )

