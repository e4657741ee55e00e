// Folding streamed chat.completion.chunk deltas into one answer: text, tool calls (their
// arguments arrive in pieces, keyed by index), finish reason and usage. Pure.
import type { ChatCompletionChunk, Usage } from "./wire.ts"

export interface PartialToolCall {
  id: string
  name: string
  arguments: string
}

export interface Accumulated {
  text: string
  readonly toolCalls: Array<PartialToolCall>
  finishReason: string | null
  usage: Usage | null
  /** Whether any content (text, tool call, finish) has arrived: the "first token". */
  started: boolean
  /** Whether the model streamed any thinking: it is working, even if nothing was said yet. */
  thinking: boolean
}

export const emptyAccumulated = (): Accumulated => ({
  text: "",
  toolCalls: [],
  finishReason: null,
  usage: null,
  started: false,
  thinking: false
})

/** Applies one chunk in place; returns the text delta it carried (for streaming consumers). */
export const applyChunk = (acc: Accumulated, chunk: ChatCompletionChunk): string => {
  if (chunk.usage) acc.usage = chunk.usage
  const choice = chunk.choices[0]
  if (choice === undefined) return ""
  let delta = ""
  const content = choice.delta?.content
  if (content) {
    acc.text += content
    delta = content
    acc.started = true
  }
  if (choice.delta?.reasoning_content || choice.delta?.reasoning) acc.thinking = true
  for (const call of choice.delta?.tool_calls ?? []) {
    acc.started = true
    const index = call.index ?? indexWithout(acc, call)
    const slot = acc.toolCalls[index] ?? (acc.toolCalls[index] = { id: "", name: "", arguments: "" })
    if (call.id) slot.id = call.id
    if (call.function?.name) slot.name += call.function.name
    if (call.function?.arguments) slot.arguments += call.function.arguments
  }
  if (choice.finish_reason) {
    acc.finishReason = choice.finish_reason
    acc.started = true
  }
  return delta
}

/**
 * Some servers (SGLang, proxies) send tool-call deltas without `index`: a new id, or a name for a
 * call that already has one, opens the next call; anything else continues the last one.
 */
const indexWithout = (
  acc: Accumulated,
  call: { readonly id?: string | null | undefined; readonly function?: { readonly name?: string | null | undefined } | undefined }
): number => {
  const last = acc.toolCalls.length - 1
  if (last < 0) return 0
  const current = acc.toolCalls[last]!
  const opens = (call.id ? call.id !== current.id && current.id !== "" : false) ||
    (!call.id && call.function?.name ? current.name !== "" : false)
  return opens ? last + 1 : last
}
