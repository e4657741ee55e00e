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
  /** Dense, in the order the calls opened, whatever indexes the provider used. */
  readonly toolCalls: Array<PartialToolCall>
  /** The provider's index → its call (an index may be any number: 3 before 0, or 10^9). */
  readonly byIndex: Map<number, PartialToolCall>
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
  byIndex: new Map(),
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
    const slot = slotOf(acc, call)
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

const open = (acc: Accumulated): PartialToolCall => {
  const slot = { id: "", name: "", arguments: "" }
  acc.toolCalls.push(slot)
  return slot
}

/** The call a delta continues, or a new one. Never a hole in `toolCalls` (a sparse index once left one). */
const slotOf = (
  acc: Accumulated,
  call: { readonly index?: number | null | undefined; readonly id?: string | null | undefined; readonly function?: { readonly name?: string | null | undefined } | undefined }
): PartialToolCall => {
  if (call.index === undefined || call.index === null) return acc.toolCalls[indexWithout(acc, call)] ?? open(acc)
  const known = acc.byIndex.get(call.index)
  if (known !== undefined) return known
  const slot = open(acc)
  acc.byIndex.set(call.index, slot)
  return slot
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
