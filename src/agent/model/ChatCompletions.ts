// An OpenAI-compatible chat/completions client for effect/ai (OpenAI, OpenRouter, Ollama, vLLM,
// llama.cpp, LM Studio, Anthropic's compatible endpoint). Non-streaming and SSE streaming, tool
// calls, usage; retries 429/5xx/connection errors with backoff honouring retry-after; a
// first-token timeout (streaming) and a total timeout per request. Every failure is an AiError.
// The pieces: request.ts (the body, encoded once per message), exchange.ts (one HTTP exchange),
// errors.ts, unknownTools.ts.
import { Deferred, Duration, Effect, Fiber, Option, Queue, Random, Stream } from "effect"
import type { LanguageModel, Response } from "effect/ai"
import { AiError, Tool } from "effect/ai"
import { HttpClient } from "effect/http"
import { type Accumulated, emptyAccumulated } from "./accumulate.ts"
import { type EndpointConfig, type ProviderFns, RetryObserver } from "./endpoint.ts"
import { invalid, timeoutError, timeoutKindOf } from "./errors.ts"
import { makeExchange } from "./exchange.ts"
import { bodyBytes, makeRequestEncoder, type RequestBody, withMessages } from "./request.ts"
import { isRetryableStatus, retryDelayMs } from "./retryPolicy.ts"
import { UNKNOWN_TOOL_RETRIES, unknownToolReply } from "./unknownTools.ts"
import { finishReason, usageOf } from "./wire.ts"

const toolCallParts = (config: EndpointConfig, calls: ReadonlyArray<{ id: string; name: string; arguments: string }>) =>
  Effect.forEach(calls, (call, i) =>
    Effect.try({
      try: (): Response.PartEncoded => ({
        type: "tool-call",
        id: call.id === "" ? `call_${i}` : call.id,
        name: call.name,
        params: call.arguments.trim() === "" ? {} : Tool.unsafeSecureJsonParse(call.arguments)
      }),
      catch: () => invalid(config, `tool call ${call.name} has arguments that are not JSON`)
    }))

const finishPart = (reason: string | null | undefined, usage: Accumulated["usage"]): Response.PartEncoded => ({
  type: "finish",
  reason: finishReason(reason),
  usage: usageOf(usage)
})

export const make = (config: EndpointConfig) =>
  Effect.gen(function*() {
    const exchange = makeExchange(yield* HttpClient.HttpClient, config)
    const encodeRequest = makeRequestEncoder(config.model)
    type OnDelta = ((text: string) => Effect.Effect<void>) | undefined

    /** One attempt with the first-token and total timeouts. */
    const attempt = (body: Uint8Array, stream: boolean, onDelta: OnDelta) =>
      Effect.gen(function*() {
        const acc = emptyAccumulated()
        const first = yield* Deferred.make<void>()
        const run = exchange(body, stream, acc, first, onDelta).pipe(
          Effect.onExit(() => Deferred.succeed(first, undefined))
        )
        return yield* Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(run)
          if (stream) {
            const arrived = yield* Deferred.await(first).pipe(Effect.timeoutOption(config.firstTokenTimeout))
            if (Option.isNone(arrived)) {
              yield* Fiber.interrupt(fiber)
              return yield* timeoutError(config, "first-token", false)
            }
          }
          yield* Fiber.join(fiber)
          return acc
        }).pipe(
          Effect.timeoutOrElse({
            duration: config.requestTimeout,
            orElse: () => Effect.fail(timeoutError(config, "total", acc.started))
          })
        )
      })

    const shouldRetry = (e: AiError.AiError, started: boolean) => {
      if (started) return false // a retry would repeat text the caller has already seen
      const timeout = timeoutKindOf(e)
      if (timeout !== undefined) return timeout.kind === "first-token" && config.retryFirstTokenTimeout
      switch (e.reason._tag) {
        case "RateLimitError":
        case "NetworkError":
          return e.reason.isRetryable
        case "InternalProviderError":
          return true
        case "UnknownError": {
          const status = (e.reason as { http?: { response?: { status?: number } } }).http?.response?.status
          return status !== undefined && isRetryableStatus(status)
        }
        default:
          return false
      }
    }

    /** Attempts with backoff. Streaming callers that already saw text are not retried. */
    const withRetries = (body: RequestBody, stream: boolean, onDelta: OnDelta, deltasSeen: () => boolean) => {
      const bytes = bodyBytes(body) // once for every attempt
      const loop = (n: number): Effect.Effect<Accumulated, AiError.AiError> =>
        attempt(bytes, stream, onDelta).pipe(
          Effect.catch((e: AiError.AiError) =>
            Effect.gen(function*() {
              if (n + 1 >= config.attempts || !shouldRetry(e, deltasSeen())) return yield* Effect.fail(e)
              const random = yield* Random.next
              const delayMs = retryDelayMs(n, config.backoff, e.retryAfter ? Duration.toMillis(e.retryAfter) : undefined, random)
              yield* Effect.logWarning(`model request failed (${e.reason._tag}); retrying in ${delayMs} ms`).pipe(
                Effect.annotateLogs({ endpoint: config.label, model: config.model, attempt: n + 1, error: e.message })
              )
              const observer = yield* RetryObserver
              if (observer) {
                yield* observer({ endpoint: config.label, attempt: n + 1, attempts: config.attempts, delayMs, error: e })
              }
              yield* Effect.sleep(Duration.millis(delayMs))
              return yield* loop(n + 1)
            })
          )
        )
      return loop(0)
    }

    const spanAttributes = (stream: boolean) => ({
      "gen_ai.system": "openai-compatible",
      "gen_ai.request.model": config.model,
      "switchboard.model_endpoint": config.label,
      "switchboard.stream": stream
    })

    const annotateUsage = (acc: Accumulated) =>
      Effect.annotateCurrentSpan({
        "gen_ai.usage.input_tokens": acc.usage?.prompt_tokens ?? -1,
        "gen_ai.usage.output_tokens": acc.usage?.completion_tokens ?? -1,
        "gen_ai.response.finish_reason": acc.finishReason ?? "unknown"
      })

    // Each model call is one span, effect/ai's LanguageModel.generateText: annotated here, no span of our own.
    const generateText = (options: LanguageModel.ProviderOptions) =>
      Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan(spanAttributes(config.stream))
        const known = options.tools.map((t) => t.name)
        let body = encodeRequest(options, config.stream)
        let acc = yield* withRetries(body, config.stream, undefined, () => false)
        // A call of a tool that does not exist is answered at once and the model asked again.
        for (let asked = 0; asked < UNKNOWN_TOOL_RETRIES; asked++) {
          const unknown = acc.toolCalls.filter((c) => !known.includes(c.name))
          if (unknown.length === 0) break
          yield* Effect.logWarning("the model called a tool that does not exist; asking again").pipe(
            Effect.annotateLogs({ tools: unknown.map((c) => c.name).join(","), model: config.model })
          )
          body = withMessages(body, unknownToolReply(acc, known))
          acc = yield* withRetries(body, config.stream, undefined, () => false)
        }
        yield* annotateUsage(acc)
        const parts: Array<Response.PartEncoded> = []
        if (acc.text !== "") parts.push({ type: "text", text: acc.text })
        parts.push(...(yield* toolCallParts(config, acc.toolCalls)))
        const reason = acc.toolCalls.length > 0 && acc.finishReason !== "tool_calls" && acc.finishReason !== "length"
          ? "tool_calls" // some servers say "stop" after tool calls; the loop must still run them
          : acc.finishReason
        parts.push(finishPart(reason, acc.usage))
        return parts
      })

    const streamText = (options: LanguageModel.ProviderOptions) =>
      Stream.callback<Response.StreamPartEncoded, AiError.AiError>((queue) =>
        Effect.gen(function*() {
          yield* Effect.annotateCurrentSpan(spanAttributes(true))
          const body = encodeRequest(options, true)
          const seen = { text: false }
          const onDelta = (delta: string) =>
            Effect.gen(function*() {
              if (!seen.text) {
                seen.text = true
                yield* Effect.asVoid(Queue.offer(queue, { type: "text-start", id: "text" }))
              }
              yield* Effect.asVoid(Queue.offer(queue, { type: "text-delta", id: "text", delta }))
            })
          const acc = yield* withRetries(body, true, onDelta, () => seen.text)
          if (seen.text) yield* Effect.asVoid(Queue.offer(queue, { type: "text-end", id: "text" }))
          for (const part of yield* toolCallParts(config, acc.toolCalls)) {
            yield* Effect.asVoid(Queue.offer(queue, part as Response.StreamPartEncoded))
          }
          const reason = acc.toolCalls.length > 0 && acc.finishReason !== "length" ? "tool_calls" : acc.finishReason
          yield* Effect.asVoid(Queue.offer(queue, finishPart(reason, acc.usage) as Response.StreamPartEncoded))
          yield* Queue.end(queue)
        }).pipe(Effect.catch((e: AiError.AiError) => Queue.fail(queue, e)))
      )

    // The probe is shaped like an ordinary turn: no max_tokens or other extra parameter, which
    // some models refuse (OpenAI's reasoning models answer 400 to max_tokens), and a probe that
    // can never pass would keep turns on the fallback until a restart.
    const probe = attempt(
      new TextEncoder().encode(
        JSON.stringify({ model: config.model, messages: [{ role: "user", content: "ping" }], ...(config.stream ? { stream: true } : {}) })
      ),
      config.stream,
      undefined
    ).pipe(Effect.asVoid, Effect.withSpan("llm.probe", { attributes: spanAttributes(config.stream) }))

    return { config, generateText, streamText, probe } satisfies ProviderFns
  })
