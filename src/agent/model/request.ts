// The chat/completions request, built from an effect/ai Prompt as JSON bytes. A message's wire form
// is encoded once (to UTF-8) and remembered (the history only grows between compactions, and its
// messages are the same objects turn after turn), so a turn encodes only what is new and copies the
// rest into one buffer, outside the JS heap: no string of the whole history per turn. Tool
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

/** One prompt message on the wire: its chat messages as UTF-8 JSON (comma-joined) and the tool call ids it opens and answers. */
export interface EncodedMessage {
  readonly role: Prompt.Message["role"]
  readonly bytes: Uint8Array
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

const utf8 = new TextEncoder()
/** Its own buffer each (not a slice of Node's shared pool, which a long-lived message would pin). */
const encodeJson = (value: unknown) => utf8.encode(JSON.stringify(value))
const joinJson = (messages: ReadonlyArray<ChatMessage>) => utf8.encode(messages.map((m) => JSON.stringify(m)).join(","))

export const encodeMessage = (m: Prompt.Message): EncodedMessage => {
  switch (m.role) {
    case "system":
      return { role: "system", bytes: joinJson([{ role: "system", content: m.content }]), system: m.content, calls: [], results: [] }
    case "user":
      return { role: "user", bytes: joinJson([{ role: "user", content: textOf(m.content) }]), calls: [], results: [] }
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
        bytes: joinJson([assistant, ...results.map(toolMessage)]),
        calls: calls.map((c) => c.id),
        results: results.map((p) => p.id)
      }
    }
    case "tool": {
      const results = m.content.flatMap((p) => (p.type === "tool-result" ? [p] : []))
      return { role: "tool", bytes: joinJson(results.map(toolMessage)), calls: [], results: results.map((p) => p.id) }
    }
  }
}

const toolMessage = (p: Prompt.ToolResultPart): ChatMessage => ({ role: "tool", tool_call_id: p.id, content: resultText(p) })

/**
 * Where encoding a prompt's messages stands: `count` messages of `source` folded into `out`, the
 * calls of the last assistant message still `pending`, the results `answered` so far. A later prompt
 * that starts with the same message objects resumes from here instead of starting over.
 */
interface Fold {
  readonly source: ReadonlyArray<Prompt.Message>
  readonly count: number
  readonly out: Array<Uint8Array>
  readonly pending: ReadonlyArray<string>
  readonly answered: Set<string>
}

const notRun = (fold: Fold): Array<Uint8Array> =>
  fold.pending.flatMap((id) =>
    fold.answered.has(id) ? [] : [encodeJson({ role: "tool", tool_call_id: id, content: "error: this tool call was not run" })]
  )

/** One system message at the start (see `messageBytes`). */
const startFold = (messages: ReadonlyArray<Prompt.Message>, encode: (m: Prompt.Message) => EncodedMessage): Fold => {
  let i = 0
  const leading: Array<string> = []
  while (i < messages.length && messages[i]!.role === "system") leading.push((messages[i++] as Prompt.SystemMessage).content)
  const out = leading.length === 1
    ? [encode(messages[0]!).bytes]
    : leading.length > 1
    ? [encodeJson({ role: "system", content: leading.join("\n\n") })]
    : []
  return { source: messages, count: i, out, pending: [], answered: new Set() }
}

/** Folds in `messages` from `fold.count` on; `fold` is used up (its out and answered are taken over). */
const foldRest = (fold: Fold, messages: ReadonlyArray<Prompt.Message>, encode: (m: Prompt.Message) => EncodedMessage): Fold => {
  const { out, answered } = fold
  let pending = fold.pending
  for (let i = fold.count; i < messages.length; i++) {
    const e = encode(messages[i]!)
    if (e.role !== "tool") {
      out.push(...notRun({ ...fold, pending }))
      pending = []
    }
    if (e.bytes.length > 0) out.push(e.bytes)
    if (e.role === "assistant") pending = e.calls
    for (const id of e.results) answered.add(id)
  }
  return { source: messages, count: messages.length, out, pending, answered }
}

/**
 * A prompt's messages as UTF-8 JSON, in order. Every assistant tool call gets a `tool` answer: a
 * call the framework did not resolve (unknown tool, interrupted turn) is answered with an error
 * text, since providers reject a history with an unanswered call. One system message at the start:
 * the system prompt and a compaction summary are sent as one (some chat templates, e.g. Gemma's on
 * llama.cpp, accept a single leading system message only).
 */
export const messageBytes = (prompt: Prompt.Prompt, encode: (m: Prompt.Message) => EncodedMessage = encodeMessage) => {
  const fold = foldRest(startFold(prompt.content, encode), prompt.content, encode)
  return [...fold.out, ...notRun(fold)]
}

/** The prompt as chat messages (objects): what `messageBytes` sends. */
export const toMessages = (prompt: Prompt.Prompt): Array<ChatMessage> => {
  const text = new TextDecoder()
  return JSON.parse(`[${messageBytes(prompt).map((b) => text.decode(b)).join(",")}]`) as Array<ChatMessage>
}

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
  readonly head: Uint8Array
  readonly messages: ReadonlyArray<Uint8Array>
  readonly tail: Uint8Array
}

const COMMA = utf8.encode(",")

/** Pieces of JSON as one buffer, with commas between them. */
const joined = (head: Uint8Array | undefined, pieces: ReadonlyArray<Uint8Array>, tail: Uint8Array | undefined) => {
  const all: Array<Uint8Array> = head === undefined ? [] : [head]
  for (const piece of pieces) {
    if (all.length > (head === undefined ? 0 : 1)) all.push(COMMA)
    all.push(piece)
  }
  if (tail !== undefined) all.push(tail)
  return Buffer.concat(all)
}

/** The body as one buffer: the pieces copied once, with commas between the messages. */
export const bodyBytes = (body: RequestBody): Uint8Array => joined(body.head, body.messages, body.tail)

export const withMessages = (body: RequestBody, messages: ReadonlyArray<ChatMessage>): RequestBody => ({
  ...body,
  messages: [...body.messages, ...messages.map(encodeJson)]
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
  const head = utf8.encode(`{"model":${JSON.stringify(model)},"messages":[`)
  // The last prompt's messages, folded, and their bytes in one buffer that only grows: the next
  // turn's prompt starts with the same messages (plus the turn's new ones), so only those are
  // encoded and appended in place; the request is built from that buffer and a few small pieces.
  // Bytes below a fold's length are never written again, so a body still being sent stays intact.
  const last: { fold: Fold | undefined; bytes: Uint8Array; length: number } = { fold: undefined, bytes: new Uint8Array(0), length: 0 }
  const append = (pieces: ReadonlyArray<Uint8Array>) => {
    let needed = last.length
    for (const piece of pieces) needed += piece.length + 1
    if (needed > last.bytes.length) {
      const grown = new Uint8Array(Math.max(needed, 2 * last.bytes.length, 64 * 1024))
      grown.set(last.bytes.subarray(0, last.length))
      last.bytes = grown
    }
    for (const piece of pieces) {
      if (last.length > 0) last.bytes[last.length++] = COMMA[0]!
      last.bytes.set(piece, last.length)
      last.length += piece.length
    }
  }
  const foldOf = (messages: ReadonlyArray<Prompt.Message>): Fold => {
    const previous = last.fold
    const resumes = previous !== undefined && previous.count <= messages.length &&
      previous.source.some((m) => m.role !== "system") && // past the leading system run
      previous.source.every((m, i) => i >= previous.count || messages[i] === m)
    if (!resumes) {
      // A new conversation, or a compacted one: start over in a buffer of its own.
      last.bytes = new Uint8Array(0)
      last.length = 0
    }
    const fold = resumes
      ? foldRest({ ...previous, out: [], answered: new Set(previous.answered) }, messages, encode)
      : foldRest(startFold(messages, encode), messages, encode)
    append(fold.out)
    last.fold = { ...fold, out: last.length === 0 ? [] : [last.bytes.subarray(0, last.length)] }
    return last.fold
  }
  return (options: LanguageModel.ProviderOptions, stream: boolean): RequestBody => {
    const defined = options.tools.filter(Tool.isUserDefined)
    const tail = "]" +
      (defined.length > 0 ? `,"tools":[${defined.map(toolJson).join(",")}],"tool_choice":${JSON.stringify(toolChoice(options.toolChoice))}` : "") +
      (options.responseFormat.type === "json" ? `,"response_format":{"type":"json_object"}` : "") +
      (stream ? `,"stream":true,"stream_options":{"include_usage":true}` : "") +
      "}"
    const fold = foldOf(options.prompt.content)
    return { head, messages: [...fold.out, ...notRun(fold)], tail: utf8.encode(tail) }
  }
}
