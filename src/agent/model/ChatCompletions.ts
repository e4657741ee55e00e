// An OpenAI-compatible chat/completions client for effect/ai (OpenAI, OpenRouter, Ollama, vLLM,
// llama.cpp, LM Studio, Anthropic's compatible endpoint). Non-streaming and SSE streaming, tool
// calls, usage; retries 429/5xx/connection errors with backoff honouring retry-after; a
// first-token timeout (streaming) and a total timeout per request. Every failure is an AiError.
import { Clock, Context, Deferred, Duration, Effect, Fiber, Option, Queue, Random, Redacted, Schema, Stream } from "effect"
import type { LanguageModel, Response } from "effect/ai"
import { AiError, Tool } from "effect/ai"
import { HttpClient, HttpClientRequest } from "effect/http"
import { type Accumulated, applyChunk, emptyAccumulated } from "./accumulate.ts"
import { type Backoff, isRetryableStatus, retryAfterMs, retryDelayMs } from "./retryPolicy.ts"
import { DONE, makeSseDecoder } from "./sse.ts"
import { ChatCompletion, ChatCompletionChunk, ErrorBody, finishReason, requestBody, usageOf } from "./wire.ts"

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

const MODULE = "ChatCompletions"

export type TimeoutKind = "first-token" | "total"

/** Timeouts are InternalProviderErrors tagged in their metadata, so the fallback can tell them apart. */
const timeoutError = (config: EndpointConfig, kind: TimeoutKind, started: boolean) =>
  AiError.make({
    module: MODULE,
    method: config.label,
    reason: new AiError.InternalProviderError({
      description: kind === "first-token"
        ? `no first token from ${config.model} within ${Duration.format(config.firstTokenTimeout)}`
        : `${config.model} did not finish within ${Duration.format(config.requestTimeout)}`,
      metadata: { switchboardTimeout: kind, started }
    })
  })

export const timeoutKindOf = (e: AiError.AiError): { kind: TimeoutKind; started: boolean } | undefined => {
  if (e.reason._tag !== "InternalProviderError") return undefined
  const m = e.reason.metadata as Record<string, unknown>
  const kind = m["switchboardTimeout"]
  return kind === "first-token" || kind === "total" ? { kind, started: m["started"] === true } : undefined
}

const invalid = (config: EndpointConfig, description: string) =>
  AiError.make({ module: MODULE, method: config.label, reason: new AiError.InvalidResponseError({ description }) })

const invalidFromSchema = (config: EndpointConfig, e: Schema.SchemaError) =>
  AiError.make({ module: MODULE, method: config.label, reason: AiError.InvalidResponseError.fromSchemaError(e) })

const network = (config: EndpointConfig, url: string, description: string) =>
  AiError.make({
    module: MODULE,
    method: config.label,
    reason: new AiError.NetworkError({ reason: "TransportError", method: "POST", url, description })
  })

const parseJson = (text: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(text) as unknown)
  } catch {
    return Option.none()
  }
}

/** An HTTP error status as an AiError; 429 keeps the wait the provider asked for. */
const statusError = (config: EndpointConfig, status: number, bodyText: string, waitMs: number | undefined) => {
  const decoded = Option.flatMap(parseJson(bodyText), Schema.decodeUnknownOption(ErrorBody))
  const message = Option.match(decoded, { onNone: () => bodyText.slice(0, 300), onSome: (b) => b.error.message ?? "" })
  const http = { response: { status, headers: {} }, body: bodyText.slice(0, 2000) }
  const reason = status === 429
    ? new AiError.RateLimitError({ ...(waitMs !== undefined ? { retryAfter: Duration.millis(waitMs) } : {}), http })
    : AiError.reasonFromHttpStatus({ status, body: bodyText.slice(0, 2000), http, description: `${status}: ${message}` })
  return AiError.make({ module: MODULE, method: config.label, reason })
}

/** Times the model is told it called a tool that does not exist, in one step. */
const UNKNOWN_TOOL_RETRIES = 2

/** The assistant's calls and, for each, the result that says why it did not run. */
const unknownToolReply = (acc: Accumulated, known: ReadonlyArray<string>) => {
  const calls = acc.toolCalls.map((c, i) => ({ ...c, id: c.id === "" ? `call_${i}` : c.id }))
  return [
    {
      role: "assistant" as const,
      content: acc.text === "" ? null : acc.text,
      tool_calls: calls.map((c) => ({
        id: c.id,
        type: "function" as const,
        function: { name: c.name, arguments: c.arguments.trim() === "" ? "{}" : c.arguments }
      }))
    },
    ...calls.map((c) => ({
      role: "tool" as const,
      tool_call_id: c.id,
      content: known.includes(c.name)
        ? "error: not run, because another call in the same step named a tool that does not exist; call it again"
        : `error: there is no tool named "${c.name}"; the tools are: ${known.join(", ")}`
    }))
  ]
}

/** An error reported inside a stream: `{ error: { message, code } }` or vLLM's `{ object: "error" }`. */
const streamError = (json: unknown): { readonly status: number } | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const o = json as { readonly error?: unknown; readonly object?: unknown; readonly code?: unknown }
  const detail = typeof o.error === "object" && o.error !== null ? (o.error as { readonly code?: unknown }) : undefined
  if (detail === undefined && o.object !== "error") return undefined
  const code = detail?.code ?? o.code
  const status = typeof code === "number" && code >= 400 && code < 600 ? code : 502
  return { status }
}

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
    const http = yield* HttpClient.HttpClient
    const url = `${config.baseUrl}/chat/completions`

    const buildRequest = (body: unknown) => {
      const request = HttpClientRequest.post(url).pipe(HttpClientRequest.bodyJsonUnsafe(body))
      return Option.match(config.apiKey, {
        onNone: () => request,
        onSome: (key) => HttpClientRequest.bearerToken(request, Redacted.value(key))
      })
    }

    interface Outcome {
      readonly acc: Accumulated
    }

    /**
     * One HTTP exchange. Streaming: SSE chunks are decoded and folded into `acc`; `onDelta` sees text
     * as it arrives; `first` is completed on the first content. Non-streaming: one decoded body.
     */
    const exchange = (
      body: unknown,
      stream: boolean,
      acc: Accumulated,
      first: Deferred.Deferred<void>,
      onDelta: (text: string) => Effect.Effect<void>
    ) =>
      Effect.gen(function*() {
        const res = yield* http.execute(buildRequest(body)).pipe(
          Effect.mapError((e) => network(config, url, e.message))
        )
        if (res.status >= 400) {
          const text = yield* res.text.pipe(Effect.orElseSucceed(() => ""))
          const now = yield* Clock.currentTimeMillis
          return yield* statusError(config, res.status, text, retryAfterMs(res.headers, now))
        }
        if (!stream) {
          const text = yield* res.text.pipe(Effect.mapError((e) => network(config, url, e.message)))
          const json = yield* Option.match(parseJson(text), {
            onNone: () => Effect.fail(invalid(config, `the response is not JSON: ${text.slice(0, 120)}`)),
            onSome: Effect.succeed
          })
          const completion = yield* Schema.decodeUnknownEffect(ChatCompletion)(json).pipe(
            Effect.mapError((e) => invalidFromSchema(config, e))
          )
          const choice = completion.choices[0]
          if (choice === undefined) return yield* invalid(config, "the response has no choices")
          acc.text = choice.message.content ?? ""
          for (const c of choice.message.tool_calls ?? []) {
            acc.toolCalls.push({ id: c.id, name: c.function.name, arguments: c.function.arguments })
          }
          acc.finishReason = choice.finish_reason ?? null
          acc.usage = completion.usage ?? null
          acc.started = true
          return
        }
        const sse = makeSseDecoder()
        const decoder = new TextDecoder()
        const state = { done: false }
        const handle = (payloads: ReadonlyArray<string>) =>
          Effect.forEach(payloads, (payload) =>
            Effect.gen(function*() {
              if (state.done) return
              if (payload.trim() === DONE) {
                state.done = true
                return
              }
              const json = yield* Option.match(parseJson(payload), {
                onNone: () => Effect.fail(invalid(config, `a stream event is not JSON: ${payload.slice(0, 120)}`)),
                onSome: Effect.succeed
              })
              // A failure after the 200 (OpenRouter, vLLM): an error event, not a cut-off answer.
              const streamed = streamError(json)
              if (streamed !== undefined) {
                return yield* statusError(config, streamed.status, JSON.stringify(json), undefined)
              }
              const chunk = yield* Schema.decodeUnknownEffect(ChatCompletionChunk)(json).pipe(
                Effect.mapError((e) => invalidFromSchema(config, e))
              )
              const delta = applyChunk(acc, chunk)
              if (acc.finishReason === "error") {
                return yield* statusError(config, 502, JSON.stringify(json), undefined)
              }
              // Thinking counts: a reasoning model is working long before its first word.
              if (acc.started || acc.thinking) yield* Deferred.succeed(first, undefined)
              if (delta !== "") yield* onDelta(delta)
            }), { discard: true })
        yield* res.stream.pipe(
          Stream.mapError((e) => network(config, url, e.message)),
          Stream.runForEach((bytes) => handle(sse.push(decoder.decode(bytes, { stream: true }))))
        )
        yield* handle(sse.end())
        // Neither a finish reason nor [DONE]: the connection was cut (a proxy timeout), and what
        // came so far (text or thinking) is not the whole answer. Retried like any broken connection.
        if (acc.finishReason === null && !state.done) {
          return yield* network(config, url, "the stream was cut off before the answer ended")
        }
        if (!acc.started && acc.finishReason === null) {
          return yield* invalid(config, "the stream ended without any content")
        }
      })

    /** One attempt with the first-token and total timeouts. */
    const attempt = (body: unknown, stream: boolean, onDelta: (text: string) => Effect.Effect<void>) =>
      Effect.gen(function*() {
        const acc = emptyAccumulated()
        const first = yield* Deferred.make<void>()
        const run = exchange(body, stream, acc, first, onDelta).pipe(
          Effect.onExit(() => Deferred.succeed(first, undefined))
        )
        const result = yield* Effect.gen(function*() {
          const fiber = yield* Effect.forkChild(run)
          if (stream) {
            const arrived = yield* Deferred.await(first).pipe(Effect.timeoutOption(config.firstTokenTimeout))
            if (Option.isNone(arrived)) {
              yield* Fiber.interrupt(fiber)
              return yield* timeoutError(config, "first-token", false)
            }
          }
          yield* Fiber.join(fiber)
          return { acc } satisfies Outcome
        }).pipe(
          Effect.timeoutOrElse({
            duration: config.requestTimeout,
            orElse: () => Effect.fail(timeoutError(config, "total", acc.started))
          })
        )
        return result
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
    const withRetries = (
      body: unknown,
      stream: boolean,
      onDelta: (text: string) => Effect.Effect<void>,
      deltasSeen: () => boolean
    ) => {
      const loop = (n: number): Effect.Effect<Outcome, AiError.AiError> =>
        attempt(body, stream, onDelta).pipe(
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

    const generateText = (options: LanguageModel.ProviderOptions) =>
      Effect.gen(function*() {
        const known = options.tools.map((t) => t.name)
        let body = requestBody(config.model, options, config.stream)
        let { acc } = yield* withRetries(body, config.stream, () => Effect.void, () => false)
        // Small models call tools that do not exist (llama3.1: brave_search, python). Tell the model
        // at once, as that call's result, and let it answer again; the turn's history never sees it.
        for (let asked = 0; asked < UNKNOWN_TOOL_RETRIES; asked++) {
          const unknown = acc.toolCalls.filter((c) => !known.includes(c.name))
          if (unknown.length === 0) break
          yield* Effect.logWarning("the model called a tool that does not exist; asking again").pipe(
            Effect.annotateLogs({ tools: unknown.map((c) => c.name).join(","), model: config.model })
          )
          body = { ...body, messages: [...body.messages, ...unknownToolReply(acc, known)] }
          acc = (yield* withRetries(body, config.stream, () => Effect.void, () => false)).acc
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
      }).pipe(Effect.withSpan("llm.chat_completions", { attributes: spanAttributes(config.stream) }))

    const streamText = (options: LanguageModel.ProviderOptions) =>
      Stream.callback<Response.StreamPartEncoded, AiError.AiError>((queue) =>
        Effect.gen(function*() {
          const body = requestBody(config.model, options, true)
          const seen = { text: false }
          const onDelta = (delta: string) =>
            Effect.gen(function*() {
              if (!seen.text) {
                seen.text = true
                yield* Effect.asVoid(Queue.offer(queue, { type: "text-start", id: "text" }))
              }
              yield* Effect.asVoid(Queue.offer(queue, { type: "text-delta", id: "text", delta }))
            })
          const { acc } = yield* withRetries(body, true, onDelta, () => seen.text)
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
      { model: config.model, messages: [{ role: "user", content: "ping" }], ...(config.stream ? { stream: true } : {}) },
      config.stream,
      () => Effect.void
    ).pipe(Effect.asVoid, Effect.withSpan("llm.probe", { attributes: spanAttributes(config.stream) }))

    return { config, generateText, streamText, probe } satisfies ProviderFns
  })
