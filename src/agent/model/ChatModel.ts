// The model the agent talks to: the primary chat/completions endpoint and, when configured, a
// fallback. After N consecutive failures or a first-token timeout, requests go to the fallback
// (the failing request is answered there at once); the primary is probed on a schedule and
// restored when it answers. Switches are logged, counted, and visible through `status`.
import { Clock, Context, Duration, Effect, Layer, Metric, Option, Schedule, type Scope, Stream } from "effect"
import { type AiError, LanguageModel } from "effect/ai"
import type { HttpClient } from "effect/http"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { GatewayConfig, type GatewaySettings } from "../../config/GatewayConfig.ts"
import { make as makeEndpoint } from "./ChatCompletions.ts"
import type { EndpointConfig, ProviderFns } from "./endpoint.ts"
import {
  classify,
  type Endpoint,
  type FallbackState,
  initialFallbackState,
  onPrimaryFailure,
  onRestore,
  onSuccess
} from "./fallbackPolicy.ts"
import { modelRequests, modelSwitches } from "../metrics.ts"
import { supervised } from "../../core/supervised.ts"

export interface ModelStatus {
  readonly active: Endpoint
  readonly primary: string
  readonly fallback: string | null
  readonly consecutiveFailures: number
  readonly switches: number
  readonly restores: number
  readonly lastSwitchAt: string | null
  readonly lastSwitchReason: string | null
  readonly lastError: string | null
}

export class ChatModel extends Context.Service<ChatModel, {
  readonly languageModel: LanguageModel.LanguageModel
  /** The model that answers now (for /status and the session info). */
  readonly status: Effect.Effect<ModelStatus>
}>()("switchboard/ChatModel") {
  /** Primary (+ optional fallback). The probe fiber lives in the caller's scope. */
  static readonly make = (options: {
    readonly primary: ProviderFns
    readonly fallback?: ProviderFns | undefined
    readonly after: number
    readonly probeEvery: Duration.Duration
  }): Effect.Effect<ChatModel["Service"], never, Scope.Scope> =>
    Effect.gen(function*() {
      const { primary, fallback } = options
      const state: { current: FallbackState; lastError: string | null } = {
        current: initialFallbackState,
        lastError: null
      }

      const count = (endpoint: string, outcome: string) =>
        Metric.update(Metric.withAttributes(modelRequests, { endpoint, outcome }), 1)

      const switched = (direction: "to_fallback" | "to_primary", reason: string) =>
        Effect.gen(function*() {
          yield* Metric.update(Metric.withAttributes(modelSwitches, { direction }), 1)
          yield* Effect.logWarning(
            direction === "to_fallback" ? "model switched to the fallback" : "model restored to the primary"
          ).pipe(
            Effect.annotateLogs({
              primary: primary.config.model,
              fallback: fallback?.config.model ?? "",
              reason
            })
          )
        })

      /** Runs `call` on the active endpoint; a counted primary failure may move it to the fallback. */
      const route = <A>(call: (p: ProviderFns) => Effect.Effect<A, AiError.AiError>): Effect.Effect<A, AiError.AiError> =>
        Effect.gen(function*() {
          if (fallback === undefined || state.current.active === "primary") {
            const result = yield* Effect.result(call(primary))
            if (result._tag === "Success") {
              state.current = onSuccess(state.current)
              yield* count("primary", "ok")
              return result.success
            }
            const error = result.failure
            state.lastError = error.message
            yield* count("primary", "failed")
            if (fallback === undefined) return yield* Effect.fail(error)
            const now = yield* Clock.currentTimeMillis
            const next = onPrimaryFailure(state.current, classify(error), options.after, now)
            state.current = next.state
            if (!next.switched) return yield* Effect.fail(error)
            yield* switched("to_fallback", next.state.lastSwitchReason ?? "")
          }
          return yield* call(fallback).pipe(
            Effect.tap(() => count("fallback", "ok")),
            Effect.tapError((e) =>
              Effect.sync(() => {
                state.lastError = e.message
              }).pipe(Effect.andThen(count("fallback", "failed")))
            )
          )
        }).pipe(Effect.annotateLogs({ model: primary.config.model }))

      const languageModel = yield* LanguageModel.make({
        generateText: (o) => route((p) => p.generateText(o)),
        // A stream is routed as a whole: it is chosen when it starts.
        streamText: (o) =>
          Stream.unwrap(Effect.sync(() =>
            fallback !== undefined && state.current.active === "fallback" ? fallback.streamText(o) : primary.streamText(o)
          ))
      })

      if (fallback !== undefined) {
        const probe = Effect.gen(function*() {
          if (state.current.active !== "fallback") return
          const ok = yield* Effect.result(primary.probe)
          if (ok._tag === "Failure") {
            // Shown in /status: a probe that keeps failing for a reason of its own is visible.
            state.lastError = `probe: ${ok.failure.message}`
            yield* Effect.logDebug("primary model still unavailable").pipe(Effect.annotateLogs({ error: ok.failure.message }))
            return
          }
          state.current = onRestore(state.current, yield* Clock.currentTimeMillis)
          yield* switched("to_primary", "primary answered a probe")
        })
        yield* probe.pipe(Effect.repeat(Schedule.spaced(options.probeEvery)), supervised({ name: "model probe" }), Effect.forkScoped)
      }

      const status = Effect.sync((): ModelStatus => {
        const s = state.current
        return {
          active: s.active,
          primary: primary.config.model,
          fallback: fallback?.config.model ?? null,
          consecutiveFailures: s.consecutiveFailures,
          switches: s.switches,
          restores: s.restores,
          lastSwitchAt: s.lastSwitchAt === undefined ? null : new Date(s.lastSwitchAt).toISOString(),
          lastSwitchReason: s.lastSwitchReason ?? null,
          lastError: state.lastError
        }
      })

      return ChatModel.of({ languageModel, status })
    })

  /** From GatewayConfig (`SWITCHBOARD_MODEL`, `OPENAI_*`, `SWITCHBOARD_FALLBACK_*`). */
  static readonly layer: Layer.Layer<ChatModel, never, GatewayConfig | HttpClient.HttpClient> = Layer.effect(
    ChatModel,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const endpoints = endpointConfigs(config)
      const primary = yield* makeEndpoint(endpoints.primary)
      const fallback = endpoints.fallback ? yield* makeEndpoint(endpoints.fallback) : undefined
      return yield* ChatModel.make({
        primary,
        fallback,
        after: config.model.fallback.after,
        probeEvery: config.model.fallback.probeEvery
      })
    })
  )

  /**
   * With a node:http client whose connections are kept alive between turns (no TCP or TLS set-up
   * per request; fetch/undici also copied each body several times). An interrupted request
   * destroys its socket.
   */
  static readonly layerNodeHttp = ChatModel.layer.pipe(Layer.provide(NodeHttpClient.layerNodeHttpOptions({ keepAlive: true })))

  /** Any LanguageModel (tests, benchmarks), without fallback. */
  static readonly fromLanguageModel = (model: string) =>
    Layer.effect(
      ChatModel,
      Effect.map(LanguageModel.LanguageModel, (languageModel) =>
        ChatModel.of({
          languageModel,
          status: Effect.succeed({
            active: "primary",
            primary: model,
            fallback: null,
            consecutiveFailures: 0,
            switches: 0,
            restores: 0,
            lastSwitchAt: null,
            lastSwitchReason: null,
            lastError: null
          })
        }))
    )
}

export const endpointConfigs = (config: GatewaySettings): {
  readonly primary: EndpointConfig
  readonly fallback: EndpointConfig | undefined
} => {
  const m = config.model
  const base = {
    stream: m.stream,
    firstTokenTimeout: m.firstTokenTimeout,
    requestTimeout: m.requestTimeout,
    attempts: m.attempts,
    backoff: { baseMs: Duration.toMillis(m.retryBaseDelay), maxMs: Duration.toMillis(m.retryMaxDelay) }
  }
  const hasFallback = Option.isSome(m.fallback.name)
  const primary: EndpointConfig = {
    ...base,
    label: "primary",
    baseUrl: m.baseUrl,
    apiKey: m.apiKey,
    model: m.name,
    retryFirstTokenTimeout: !hasFallback
  }
  const fallback: EndpointConfig | undefined = Option.match(m.fallback.name, {
    onNone: () => undefined,
    onSome: (name) => ({
      ...base,
      label: "fallback",
      baseUrl: Option.getOrElse(m.fallback.baseUrl, () => m.baseUrl),
      // A fallback on the primary's server uses its key unless it has its own.
      apiKey: Option.isSome(m.fallback.apiKey) ? m.fallback.apiKey : Option.isSome(m.fallback.baseUrl) ? Option.none() : m.apiKey,
      model: name,
      retryFirstTokenTimeout: true
    })
  })
  return { primary, fallback }
}
