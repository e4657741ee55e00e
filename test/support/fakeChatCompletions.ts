// A scripted OpenAI-compatible chat/completions server for tests. Each request takes the next
// scripted response (per model first, then the shared script, then the default); the answer is
// sent as JSON or as an SSE stream depending on the request's `stream` flag. It records every
// request and the most requests it had in flight at once.
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

export interface RecordedRequest {
  readonly model: string
  readonly stream: boolean
  readonly messages: ReadonlyArray<{ role: string; content: string | null; tool_calls?: ReadonlyArray<any>; tool_call_id?: string }>
  readonly tools: ReadonlyArray<string>
  readonly body: any
  readonly headers: IncomingMessage["headers"]
  /** The request's path: a base URL with a prefix of its own (`…/d1/v1`) tells daemons apart. */
  readonly path: string
  /** Aborted when the client goes away before the answer is complete (a daemon killed mid-turn). */
  readonly signal: AbortSignal
}

export interface ScriptedCall {
  readonly name: string
  readonly args: unknown
  readonly id?: string
}

export type Scripted =
  | {
    readonly text?: string
    readonly toolCalls?: ReadonlyArray<ScriptedCall>
    readonly usage?: { readonly prompt: number; readonly completion: number }
    /** Wait before answering (ms). */
    readonly delayMs?: number
    /** Streaming: pause between chunks (ms). */
    readonly chunkDelayMs?: number
    /** Override finish_reason. */
    readonly finish?: string
  }
  | { readonly status: number; readonly headers?: Record<string, string>; readonly body?: string }
  | { readonly malformed: true }
  /** Streaming: headers and a role-only chunk, then nothing. Non-streaming: no answer at all. */
  | { readonly stall: true }
  | ((request: RecordedRequest) => Scripted | Promise<Scripted>)

export interface FakeChatCompletions {
  /** Base URL for OPENAI_BASE_URL (ends in /v1). */
  readonly url: string
  readonly requests: Array<RecordedRequest>
  readonly maxInFlight: () => number
  readonly inFlight: () => number
  /** Queue responses for any model. */
  readonly script: (...responses: ReadonlyArray<Scripted>) => void
  /** Queue responses for one model (taken before the shared queue). */
  readonly scriptFor: (model: string, ...responses: ReadonlyArray<Scripted>) => void
  /** What to answer when nothing is queued (default `{ text: "ok" }`), optionally for one model. */
  readonly setDefault: (response: Scripted, model?: string) => void
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let s = ""
    req.setEncoding("utf8")
    req.on("data", (c: string) => (s += c))
    req.on("end", () => resolve(s))
    req.on("error", reject)
  })

const nextId = () => `call_${randomUUID().slice(0, 8)}`

export interface FakeOptions {
  /** Keep every request in `requests` (default). Off for benchmarks: long histories add up. */
  readonly record?: boolean
}

export const startFakeChatCompletions = async (options: FakeOptions = {}): Promise<FakeChatCompletions> => {
  const requests: Array<RecordedRequest> = []
  const shared: Array<Scripted> = []
  const perModel = new Map<string, Array<Scripted>>()
  const defaults = new Map<string, Scripted>()
  let fallbackDefault: Scripted = { text: "ok" }
  let inFlight = 0
  let maxInFlight = 0

  const next = (model: string): Scripted =>
    perModel.get(model)?.shift() ?? shared.shift() ?? defaults.get(model) ?? fallbackDefault

  const answer = async (res: ServerResponse, recorded: RecordedRequest, scripted: Scripted): Promise<void> => {
    if (typeof scripted === "function") return answer(res, recorded, await scripted(recorded))
    if ("status" in scripted) {
      res.writeHead(scripted.status, { "content-type": "application/json", ...scripted.headers })
      res.end(scripted.body ?? JSON.stringify({ error: { message: `scripted ${scripted.status}`, type: "test" } }))
      return
    }
    if ("malformed" in scripted) {
      res.writeHead(200, { "content-type": recorded.stream ? "text/event-stream" : "application/json" })
      res.end(recorded.stream ? "data: {not json\n\n" : "{\"choices\": [ {\"message\": ")
      return
    }
    if ("stall" in scripted) {
      if (recorded.stream) {
        res.writeHead(200, { "content-type": "text/event-stream" })
        res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant" } }] })}\n\n`)
      }
      await new Promise<void>((resolve) => res.on("close", () => resolve()))
      return
    }
    if (scripted.delayMs) await sleep(scripted.delayMs)
    const calls = (scripted.toolCalls ?? []).map((c) => ({
      id: c.id ?? nextId(),
      type: "function",
      function: { name: c.name, arguments: JSON.stringify(c.args) }
    }))
    const finish = scripted.finish ?? (calls.length > 0 ? "tool_calls" : "stop")
    const usage = scripted.usage
      ? { prompt_tokens: scripted.usage.prompt, completion_tokens: scripted.usage.completion, total_tokens: scripted.usage.prompt + scripted.usage.completion }
      : { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }
    if (!recorded.stream) {
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({
        id: "chatcmpl-fake",
        object: "chat.completion",
        model: recorded.model,
        choices: [{
          index: 0,
          finish_reason: finish,
          message: { role: "assistant", content: scripted.text ?? null, ...(calls.length > 0 ? { tool_calls: calls } : {}) }
        }],
        usage
      }))
      return
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
    const send = async (obj: unknown) => {
      if (res.destroyed) return
      res.write(`data: ${JSON.stringify(obj)}\n\n`)
      if (scripted.chunkDelayMs) await sleep(scripted.chunkDelayMs)
    }
    const chunk = (delta: unknown, finish_reason: string | null = null) => ({
      id: "chatcmpl-fake",
      object: "chat.completion.chunk",
      model: recorded.model,
      choices: [{ index: 0, delta, finish_reason }]
    })
    await send(chunk({ role: "assistant" }))
    const text = scripted.text ?? ""
    for (let i = 0; i < text.length; i += 8) await send(chunk({ content: text.slice(i, i + 8) }))
    for (const [index, call] of calls.entries()) {
      const args = call.function.arguments
      const half = Math.floor(args.length / 2)
      await send(chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: args.slice(0, half) } }] }))
      await send(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }))
    }
    await send(chunk({}, finish))
    await send({ id: "chatcmpl-fake", object: "chat.completion.chunk", model: recorded.model, choices: [], usage })
    if (!res.destroyed) res.end("data: [DONE]\n\n")
  }

  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== "POST" || !req.url?.endsWith("/chat/completions")) {
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: "not found" } }))
        return
      }
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      const gone = new AbortController()
      res.on("close", () => {
        if (!res.writableFinished) gone.abort()
      })
      try {
        const body = JSON.parse(await readBody(req))
        const recorded: RecordedRequest = {
          model: body.model,
          stream: body.stream === true,
          messages: body.messages ?? [],
          tools: (body.tools ?? []).map((t: any) => t.function?.name),
          body,
          headers: req.headers,
          path: req.url,
          signal: gone.signal
        }
        if (options.record !== false) requests.push(recorded)
        await answer(res, recorded, next(recorded.model))
      } catch (e) {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: { message: String(e) } }))
      } finally {
        inFlight--
      }
    })()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    maxInFlight: () => maxInFlight,
    inFlight: () => inFlight,
    script: (...responses) => void shared.push(...responses),
    scriptFor: (model, ...responses) => {
      const q = perModel.get(model) ?? []
      q.push(...responses)
      perModel.set(model, q)
    },
    setDefault: (response, model) => {
      if (model === undefined) fallbackDefault = response
      else defaults.set(model, response)
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** The fake for the duration of an Effect scope. */
export const fakeChatCompletions = Effect.acquireRelease(
  Effect.promise(() => startFakeChatCompletions()),
  (fake) => Effect.promise(() => fake.close())
)
