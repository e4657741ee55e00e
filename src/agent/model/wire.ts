// The chat/completions wire format: what we send (built from an effect/ai Prompt) and what we
// accept back (decoded with Schema, so a malformed provider answer is an error, never a crash).
import { Schema } from "effect"
import type { LanguageModel, Prompt, Response } from "effect/ai"
import { Tool } from "effect/ai"

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

// ---- requests ----

export interface WireToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

export type ChatMessage =
  | { readonly role: "system" | "user"; readonly content: string }
  | { readonly role: "assistant"; readonly content: string | null; readonly tool_calls?: ReadonlyArray<WireToolCall> }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

const textOf = (parts: ReadonlyArray<{ readonly type: string }>) =>
  parts.flatMap((p) => (p.type === "text" ? [(p as Prompt.TextPart).text] : [])).join("")

const toolOutputText = (parts: ReadonlyArray<Prompt.ToolModelOutputPart>) =>
  parts.map((p) => (p.type === "text" ? p.text : `[${p.mediaType}]`)).join("")

const resultText = (p: Prompt.ToolResultPart): string => {
  if (p.modelOutput !== undefined) return toolOutputText(p.modelOutput)
  return typeof p.result === "string" ? p.result : JSON.stringify(p.result ?? null)
}

/**
 * An effect/ai Prompt as chat messages. Every assistant tool call gets a `tool` answer: a call the
 * framework did not resolve (unknown tool, interrupted turn) is answered with an error text, since
 * providers reject a history with an unanswered call.
 */
export const toMessages = (prompt: Prompt.Prompt): Array<ChatMessage> => {
  const out: Array<ChatMessage> = []
  let pending: Array<string> = []
  const answered = new Set<string>()
  const closePending = () => {
    for (const id of pending) {
      if (!answered.has(id)) out.push({ role: "tool", tool_call_id: id, content: "error: this tool call was not run" })
    }
    pending = []
  }
  const pushResult = (p: Prompt.ToolResultPart) => {
    answered.add(p.id)
    out.push({ role: "tool", tool_call_id: p.id, content: resultText(p) })
  }
  for (const m of prompt.content) {
    switch (m.role) {
      case "system":
        closePending()
        out.push({ role: "system", content: m.content })
        break
      case "user":
        closePending()
        out.push({ role: "user", content: textOf(m.content) })
        break
      case "assistant": {
        closePending()
        const calls = m.content.flatMap((p) => (p.type === "tool-call" && !p.providerExecuted ? [p] : []))
        const text = textOf(m.content)
        out.push({
          role: "assistant",
          content: text === "" ? null : text,
          ...(calls.length > 0
            ? {
              tool_calls: calls.map((c) => ({
                id: c.id,
                type: "function" as const,
                function: { name: c.name, arguments: JSON.stringify(c.params ?? {}) }
              }))
            }
            : {})
        })
        pending = calls.map((c) => c.id)
        for (const p of m.content) if (p.type === "tool-result") pushResult(p)
        break
      }
      case "tool":
        for (const p of m.content) if (p.type === "tool-result") pushResult(p)
        break
    }
  }
  closePending()
  return mergeLeadingSystem(out)
}

/**
 * One system message at the start: the system prompt and a compaction summary are sent as one
 * (some chat templates, e.g. Gemma's on llama.cpp, accept a single leading system message only).
 */
const mergeLeadingSystem = <M extends { readonly role: string; readonly content?: unknown }>(messages: Array<M>): Array<M> => {
  let n = 0
  while (n < messages.length && messages[n]!.role === "system" && typeof messages[n]!.content === "string") n++
  if (n < 2) return messages
  const merged = { ...messages[0]!, content: messages.slice(0, n).map((m) => m.content as string).join("\n\n") }
  return [merged, ...messages.slice(n)]
}

export const toolDefinitions = (tools: ReadonlyArray<Tool.Any>) =>
  tools.filter(Tool.isUserDefined).map((t) => ({
    type: "function" as const,
    function: { name: t.name, description: Tool.getDescription(t), parameters: Tool.getJsonSchema(t) }
  }))

export const toolChoice = (choice: LanguageModel.ProviderOptions["toolChoice"]): unknown => {
  if (choice === "auto" || choice === "none" || choice === "required") return choice
  if ("tool" in choice) return { type: "function", function: { name: choice.tool } }
  return choice.mode ?? "auto"
}

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

/** The request body for a prompt. `stream` adds the usage figures to the final chunk. */
export const requestBody = (model: string, options: LanguageModel.ProviderOptions, stream: boolean) => {
  const tools = toolDefinitions(options.tools)
  return {
    model,
    messages: toMessages(options.prompt),
    ...(tools.length > 0 ? { tools, tool_choice: toolChoice(options.toolChoice) } : {}),
    ...(options.responseFormat.type === "json"
      ? { response_format: { type: "json_object" } }
      : {}),
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {})
  }
}
