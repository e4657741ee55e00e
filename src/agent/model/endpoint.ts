// What one chat/completions endpoint is configured with, what it offers the fallback, and the
// fiber-local hook that hears about retries.
import { Context, type Duration, type Effect, type Option, type Redacted, type Stream } from "effect"
import type { AiError, LanguageModel, Response } from "effect/ai"
import type { Backoff } from "./retryPolicy.ts"

export interface EndpointConfig {
  /** `primary` or `fallback`: names the endpoint in logs, spans and errors. */
  readonly label: string
  readonly baseUrl: string
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly model: string
  readonly stream: boolean
  readonly firstTokenTimeout: Duration.Duration
  readonly requestTimeout: Duration.Duration
  readonly attempts: number
  readonly backoff: Backoff
  /** False when a fallback takes over on a first-token timeout instead of retrying here. */
  readonly retryFirstTokenTimeout: boolean
}

export interface RetryNotice {
  readonly endpoint: string
  readonly attempt: number
  readonly attempts: number
  readonly delayMs: number
  readonly error: AiError.AiError
}

/** Set around a turn to hear about retries (the Session tells the person once). Fiber-local. */
export const RetryObserver = Context.Reference<((notice: RetryNotice) => Effect.Effect<void>) | undefined>(
  "switchboard/ai/RetryObserver",
  { defaultValue: () => undefined }
)

/** The raw provider functions, before `LanguageModel.make`: the fallback composes these. */
export interface ProviderFns {
  readonly config: EndpointConfig
  readonly generateText: (options: LanguageModel.ProviderOptions) => Effect.Effect<Array<Response.PartEncoded>, AiError.AiError>
  readonly streamText: (options: LanguageModel.ProviderOptions) => Stream.Stream<Response.StreamPartEncoded, AiError.AiError>
  /** One cheap request without retries: does the endpoint answer at all? */
  readonly probe: Effect.Effect<void, AiError.AiError>
}
