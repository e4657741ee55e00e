// The chat/completions wire format we accept back (decoded with Schema, so a malformed provider
// answer is an error, never a crash); what we send is in request.ts.
import { Result, Schema } from "effect"
import type { Response } from "effect/ai"

// ---- responses (only the fields we read; everything else is ignored) ----

const ToolCall = Schema.Struct({
  id: Schema.String,
  type: Schema.optional(Schema.String),
  function: Schema.Struct({ name: Schema.String, arguments: Schema.String })
})

const Usage = Schema.Struct({
  prompt_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
  completion_tokens: Schema.optional(Schema.NullOr(Schema.Number)),
  total_tokens: Schema.optional(Schema.NullOr(Schema.Number))
})
export type Usage = typeof Usage.Type

export const ChatCompletion = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.Array(Schema.Struct({
    finish_reason: Schema.optional(Schema.NullOr(Schema.String)),
    message: Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCall)))
    })
  })),
  usage: Schema.optional(Schema.NullOr(Usage))
})
export type ChatCompletion = typeof ChatCompletion.Type

const ToolCallDelta = Schema.Struct({
  index: Schema.optional(Schema.Number),
  id: Schema.optional(Schema.NullOr(Schema.String)),
  function: Schema.optional(Schema.Struct({
    name: Schema.optional(Schema.NullOr(Schema.String)),
    arguments: Schema.optional(Schema.NullOr(Schema.String))
  }))
})

export const ChatCompletionChunk = Schema.Struct({
  id: Schema.optional(Schema.String),
  model: Schema.optional(Schema.String),
  choices: Schema.Array(Schema.Struct({
    finish_reason: Schema.optional(Schema.NullOr(Schema.String)),
    delta: Schema.optional(Schema.NullOr(Schema.Struct({
      content: Schema.optional(Schema.NullOr(Schema.String)),
      // A reasoning model's thinking, streamed before its answer (llama.cpp, DeepSeek: reasoning_content;
      // Ollama, OpenRouter: reasoning). Not part of the answer, but proof the model is working.
      reasoning_content: Schema.optional(Schema.NullOr(Schema.String)),
      reasoning: Schema.optional(Schema.NullOr(Schema.String)),
      tool_calls: Schema.optional(Schema.NullOr(Schema.Array(ToolCallDelta)))
    })))
  })),
  usage: Schema.optional(Schema.NullOr(Usage))
})
export type ChatCompletionChunk = typeof ChatCompletionChunk.Type

/** Error bodies: `{ error: { message, type, code } }` (OpenAI and most compatible servers). */
export const ErrorBody = Schema.Struct({
  error: Schema.Struct({
    message: Schema.optional(Schema.String),
    type: Schema.optional(Schema.NullOr(Schema.String)),
    code: Schema.optional(Schema.NullOr(Schema.Union([Schema.String, Schema.Number])))
  })
})

// ---- what the answers mean to effect/ai ----

export const finishReason = (r: string | null | undefined): Response.FinishReason =>
  r === "stop"
    ? "stop"
    : r === "length"
    ? "length"
    : r === "tool_calls" || r === "function_call"
    ? "tool-calls"
    : r === "content_filter"
    ? "content-filter"
    : "unknown"

export const usageOf = (u: Usage | null | undefined) => ({
  inputTokens: { total: u?.prompt_tokens ?? undefined },
  outputTokens: { total: u?.completion_tokens ?? undefined }
})

const decodeChunk = Schema.decodeUnknownResult(ChatCompletionChunk)
const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * A stream chunk, checked. Most chunks are one choice with a bit of text and nothing else; those are
 * checked field by field here (every field `applyChunk` reads), which costs a fraction of the
 * Schema. Any other shape — tool calls, thinking, a finish reason, usage, or anything odd — goes
 * through `ChatCompletionChunk`, so a malformed chunk is still an error.
 */
export const checkChunk = (json: unknown) => {
  if (isObject(json) && json["usage"] == null) {
    const choices = json["choices"]
    if (Array.isArray(choices) && choices.length === 1) {
      const choice: unknown = choices[0]
      if (isObject(choice) && choice["finish_reason"] == null) {
        const delta = choice["delta"]
        if (
          isObject(delta) && delta["tool_calls"] == null && delta["reasoning"] == null && delta["reasoning_content"] == null
        ) {
          const content = delta["content"]
          if (content == null) return plain(undefined)
          if (typeof content === "string") return plain(content)
        }
      }
    }
  }
  return decodeChunk(json)
}

const plain = (content: string | undefined) =>
  Result.succeed<ChatCompletionChunk>({ choices: [{ delta: content === undefined ? {} : { content } }] })
