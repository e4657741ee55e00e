// The chat/completions request, built from an effect/ai Prompt as JSON text. A message's wire form
// is encoded once and remembered (the history only grows between compactions, and its messages are
// the same objects turn after turn), so a turn encodes only what is new and joins the rest; tool
// definitions are encoded once per tool.
import type { LanguageModel, Prompt } from "effect/ai"
import { Tool } from "effect/ai"

export interface WireToolCall {
  readonly id: string
  readonly type: "function"
  readonly function: { readonly name: string; readonly arguments: string }
}

export type ChatMessage =
  | { readonly role: "system" | "user"; readonly content: string }
  | { readonly role: "assistant"; readonly content: string | null; readonly tool_calls?: ReadonlyArray<WireToolCall> }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string }

/** One prompt message on the wire: its chat messages as JSON (comma-joined) and the tool call ids it opens and answers. */
export interface EncodedMessage {
  readonly role: Prompt.Message["role"]
  readonly json: string
  /** A system message's text: a leading run of them is sent as one message. */
  readonly system?: string
  readonly calls: ReadonlyArray<string>
  readonly results: ReadonlyArray<string>
}

const textOf = (parts: ReadonlyArray<{ readonly type: string }>) =>
  parts.flatMap((p) => (p.type === "text" ? [(p as Prompt.TextPart).text] : [])).join("")

const toolOutputText = (parts: ReadonlyArray<Prompt.ToolModelOutputPart>) =>
  parts.map((p) => (p.type === "text" ? p.text : `[${p.mediaType}]`)).join("")

const resultText = (p: Prompt.ToolResultPart): string => {
  if (p.modelOutput !== undefined) return toolOutputText(p.modelOutput)
  return typeof p.result === "string" ? p.result : JSON.stringify(p.result ?? null)
}

const joinJson = (messages: ReadonlyArray<ChatMessage>) => messages.map((m) => JSON.stringify(m)).join(",")

export const encodeMessage = (m: Prompt.Message): EncodedMessage => {
  switch (m.role) {
    case "system":
      return { role: "system", json: joinJson([{ role: "system", content: m.content }]), system: m.content, calls: [], results: [] }
    case "user":
      return { role: "user", json: joinJson([{ role: "user", content: textOf(m.content) }]), calls: [], results: [] }
    case "assistant": {
      const calls = m.content.flatMap((p) => (p.type === "tool-call" && !p.providerExecuted ? [p] : []))
      const results = m.content.flatMap((p) => (p.type === "tool-result" ? [p] : []))
      const text = textOf(m.content)
      const assistant: ChatMessage = {
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
      }
      return {
        role: "assistant",
        json: joinJson([assistant, ...results.map(toolMessage)]),
        calls: calls.map((c) => c.id),
        results: results.map((p) => p.id)
      }
    }
    case "tool": {
      const results = m.content.flatMap((p) => (p.type === "tool-result" ? [p] : []))
      return { role: "tool", json: joinJson(results.map(toolMessage)), calls: [], results: results.map((p) => p.id) }
    }
  }
}

const toolMessage = (p: Prompt.ToolResultPart): ChatMessage => ({ role: "tool", tool_call_id: p.id, content: resultText(p) })

/**
 * A prompt's messages as JSON texts, in order. Every assistant tool call gets a `tool` answer: a
 * call the framework did not resolve (unknown tool, interrupted turn) is answered with an error
 * text, since providers reject a history with an unanswered call. One system message at the start:
 * the system prompt and a compaction summary are sent as one (some chat templates, e.g. Gemma's on
 * llama.cpp, accept a single leading system message only).
 */
export const messagesJson = (prompt: Prompt.Prompt, encode: (m: Prompt.Message) => EncodedMessage = encodeMessage) => {
  const out: Array<string> = []
  const messages = prompt.content
  let i = 0
  const leading: Array<string> = []
  while (i < messages.length && messages[i]!.role === "system") leading.push((messages[i++] as Prompt.SystemMessage).content)
  if (leading.length === 1) out.push(encode(messages[0]!).json)
  else if (leading.length > 1) out.push(JSON.stringify({ role: "system", content: leading.join("\n\n") }))
  let pending: ReadonlyArray<string> = []
  const answered = new Set<string>()
  const closePending = () => {
    for (const id of pending) {
      if (!answered.has(id)) out.push(JSON.stringify({ role: "tool", tool_call_id: id, content: "error: this tool call was not run" }))
    }
    pending = []
  }
  for (; i < messages.length; i++) {
    const e = encode(messages[i]!)
    if (e.role !== "tool") closePending()
    if (e.json !== "") out.push(e.json)
    if (e.role === "assistant") pending = e.calls
    for (const id of e.results) answered.add(id)
  }
  closePending()
  return out
}

/** The prompt as chat messages (objects): what `messagesJson` sends. */
export const toMessages = (prompt: Prompt.Prompt): Array<ChatMessage> =>
  JSON.parse(`[${messagesJson(prompt).join(",")}]`) as Array<ChatMessage>

export const toolDefinition = (t: Tool.Any) => ({
  type: "function" as const,
  function: { name: t.name, description: Tool.getDescription(t), parameters: Tool.getJsonSchema(t) }
})

export const toolChoice = (choice: LanguageModel.ProviderOptions["toolChoice"]): unknown => {
  if (choice === "auto" || choice === "none" || choice === "required") return choice
  if ("tool" in choice) return { type: "function", function: { name: choice.tool } }
  return choice.mode ?? "auto"
}

/** A request body in three pieces, so that messages can be added (the unknown-tool retry) without re-encoding. */
export interface RequestBody {
  readonly head: string
  readonly messages: ReadonlyArray<string>
  readonly tail: string
}

export const bodyText = (body: RequestBody) => `${body.head}${body.messages.join(",")}${body.tail}`

export const withMessages = (body: RequestBody, messages: ReadonlyArray<ChatMessage>): RequestBody => ({
  ...body,
  messages: [...body.messages, ...messages.map((m) => JSON.stringify(m))]
})

/**
 * Request bodies with every message and tool definition encoded once: the caches are weak, keyed by
 * the prompt's message and tool objects, so what compaction or `/new` drops is collected with them.
 * `stream` adds the usage figures to the final chunk.
 */
export const makeRequestEncoder = (model: string) => {
  const messages = new WeakMap<Prompt.Message, EncodedMessage>()
  const tools = new WeakMap<Tool.Any, string>()
  const encode = (m: Prompt.Message) => {
    let e = messages.get(m)
    if (e === undefined) messages.set(m, e = encodeMessage(m))
    return e
  }
  const toolJson = (t: Tool.Any) => {
    let json = tools.get(t)
    if (json === undefined) tools.set(t, json = JSON.stringify(toolDefinition(t)))
    return json
  }
  const head = `{"model":${JSON.stringify(model)},"messages":[`
  return (options: LanguageModel.ProviderOptions, stream: boolean): RequestBody => {
    const defined = options.tools.filter(Tool.isUserDefined)
    const tail = "]" +
      (defined.length > 0 ? `,"tools":[${defined.map(toolJson).join(",")}],"tool_choice":${JSON.stringify(toolChoice(options.toolChoice))}` : "") +
      (options.responseFormat.type === "json" ? `,"response_format":{"type":"json_object"}` : "") +
      (stream ? `,"stream":true,"stream_options":{"include_usage":true}` : "") +
      "}"
    return { head, messages: messagesJson(options.prompt, encode), tail }
  }
}
