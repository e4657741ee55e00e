// One HTTP exchange with a chat/completions endpoint. Streaming: SSE events are checked and folded
// into the answer as they arrive (synchronously per network chunk: no Effect per event); `onDelta`
// sees text as it arrives and `first` is completed on the first content. Non-streaming: one decoded body.
import { Clock, Deferred, Effect, Option, Redacted, Result, Schema, Stream } from "effect"
import type { AiError } from "effect/ai"
import { HttpClient, HttpClientRequest } from "effect/http"
import { type Accumulated, applyChunk } from "./accumulate.ts"
import type { EndpointConfig } from "./endpoint.ts"
import { invalid, invalidFromSchema, network, parseJson, statusError, streamError } from "./errors.ts"
import { retryAfterMs } from "./retryPolicy.ts"
import { DONE, makeSseDecoder } from "./sse.ts"
import { ChatCompletion, checkChunk } from "./wire.ts"

export type Exchange = (
  body: Uint8Array,
  stream: boolean,
  acc: Accumulated,
  first: Deferred.Deferred<void>,
  onDelta: ((text: string) => Effect.Effect<void>) | undefined
) => Effect.Effect<void, AiError.AiError>

export const makeExchange = (http: HttpClient.HttpClient, config: EndpointConfig): Exchange => {
  const url = `${config.baseUrl}/chat/completions`
  const post = HttpClientRequest.post(url)
  const base = Option.match(config.apiKey, {
    onNone: () => post,
    onSome: (key) => HttpClientRequest.bearerToken(post, Redacted.value(key))
  })
  const request = (body: Uint8Array) => HttpClientRequest.bodyUint8Array(base, body, "application/json")

  const complete = (text: string, acc: Accumulated) =>
    Effect.gen(function*() {
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
    })

  return (body, stream, acc, first, onDelta) =>
    Effect.gen(function*() {
      const res = yield* http.execute(request(body)).pipe(
        // The model call is the LanguageModel span already: no HTTP client span under it.
        Effect.provideService(HttpClient.TracerDisabledWhen, () => true),
        Effect.mapError((e) => network(config, url, e.message))
      )
      if (res.status >= 400) {
        const text = yield* res.text.pipe(Effect.orElseSucceed(() => ""))
        const now = yield* Clock.currentTimeMillis
        return yield* statusError(config, res.status, text, retryAfterMs(res.headers, now))
      }
      if (!stream) {
        const text = yield* res.text.pipe(Effect.mapError((e) => network(config, url, e.message)))
        return yield* complete(text, acc)
      }
      const sse = makeSseDecoder()
      const decoder = new TextDecoder()
      const state = { done: false, first: false }
      /** The events of one network chunk, folded in one go; the text deltas are handed on after. */
      const handle = (payloads: ReadonlyArray<string>) =>
        Effect.suspend(() => {
          const deltas: Array<string> = []
          let failure: AiError.AiError | undefined
          for (const payload of payloads) {
            if (state.done) break
            if (payload.trim() === DONE) {
              state.done = true
              break
            }
            const json = parseJson(payload)
            if (Option.isNone(json)) {
              failure = invalid(config, `a stream event is not JSON: ${payload.slice(0, 120)}`)
              break
            }
            // A failure after the 200 (OpenRouter, vLLM): an error event, not a cut-off answer.
            const streamed = streamError(json.value)
            if (streamed !== undefined) {
              failure = statusError(config, streamed.status, JSON.stringify(json.value), undefined)
              break
            }
            const chunk = checkChunk(json.value)
            if (Result.isFailure(chunk)) {
              failure = invalidFromSchema(config, chunk.failure)
              break
            }
            const delta = applyChunk(acc, chunk.success)
            if (acc.finishReason === "error") {
              failure = statusError(config, 502, JSON.stringify(json.value), undefined)
              break
            }
            if (delta !== "") deltas.push(delta)
          }
          const effects: Array<Effect.Effect<unknown, AiError.AiError>> = []
          // Thinking counts: a reasoning model is working long before its first word.
          if (!state.first && (acc.started || acc.thinking)) {
            state.first = true
            effects.push(Deferred.succeed(first, undefined))
          }
          if (onDelta !== undefined) for (const d of deltas) effects.push(onDelta(d))
          if (failure !== undefined) effects.push(Effect.fail(failure))
          return effects.length === 0 ? Effect.void : Effect.asVoid(Effect.all(effects, { discard: true }))
        })
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
}
