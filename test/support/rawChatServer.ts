// A raw chat/completions server: the test writes the exact SSE bytes a provider sends (keep-alives,
// reasoning deltas, index-less tool calls, error events, cut-off streams), which the scripted fake
// cannot express. `handle` gets the request body and its number (1, 2, …).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"

export interface RawServer {
  /** Base URL for OPENAI_BASE_URL (ends in /v1). */
  readonly url: string
  readonly bodies: Array<any>
}

export const rawServer = (handle: (body: any, res: ServerResponse, n: number) => Promise<void> | void) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const bodies: Array<any> = []
      const server = createServer((req: IncomingMessage, res) => {
        let s = ""
        req.setEncoding("utf8")
        req.on("data", (c: string) => (s += c))
        req.on("end", () => {
          bodies.push(JSON.parse(s))
          void handle(bodies[bodies.length - 1], res, bodies.length)
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const { port } = server.address() as AddressInfo
      return { server, raw: { url: `http://127.0.0.1:${port}/v1`, bodies } satisfies RawServer }
    }),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  ).pipe(Effect.map(({ raw }) => raw))

/** One chat.completion.chunk with `delta` (and extra top-level fields, e.g. an `error`). */
export const chunk = (delta: unknown, finish_reason: string | null = null, extra: Record<string, unknown> = {}) => ({
  id: "chatcmpl-raw",
  object: "chat.completion.chunk",
  model: "primary-model",
  choices: [{ index: 0, delta, finish_reason }],
  ...extra
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Writes `events` as SSE `data:` events (objects JSON-encoded), pausing `gapMs` between them, then ends. */
export const sse = (events: ReadonlyArray<unknown>, gapMs = 0) => async (_body: any, res: ServerResponse) => {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" })
  for (const e of events) {
    if (res.destroyed) return
    res.write(`data: ${typeof e === "string" ? e : JSON.stringify(e)}\n\n`)
    if (gapMs > 0) await sleep(gapMs)
  }
  if (!res.destroyed) res.end()
}
