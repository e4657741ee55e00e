// A small server-sent events client for tests: reads `event:` / `data:` frames from a fetch body.
export interface SseEvent {
  readonly type: string
  readonly data: any
}

export interface SseClient {
  readonly events: Array<SseEvent>
  /** Resolves with the first event (from the start) that matches; fails after `timeoutMs`. */
  readonly next: (predicate: (e: SseEvent) => boolean, label: string, timeoutMs?: number) => Promise<SseEvent>
  readonly closed: Promise<void>
  readonly close: () => void
}

export const parseFrames = (text: string): { events: Array<SseEvent>; rest: string } => {
  const events: Array<SseEvent> = []
  let rest = text
  let i: number
  while ((i = rest.indexOf("\n\n")) >= 0) {
    const frame = rest.slice(0, i)
    rest = rest.slice(i + 2)
    let type = "message"
    const data: Array<string> = []
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) type = line.slice(7)
      else if (line.startsWith("data: ")) data.push(line.slice(6))
    }
    if (data.length > 0) events.push({ type, data: JSON.parse(data.join("\n")) })
  }
  return { events, rest }
}

export const connectSse = async (url: string, headers: Record<string, string> = {}): Promise<SseClient> => {
  const abort = new AbortController()
  const res = await fetch(url, { headers, signal: abort.signal })
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`)
  const events: Array<SseEvent> = []
  const waiters = new Set<() => void>()
  const closed = (async () => {
    const decoder = new TextDecoder()
    let buffer = ""
    try {
      for await (const chunk of res.body as any as AsyncIterable<Uint8Array>) {
        const parsed = parseFrames(buffer + decoder.decode(chunk, { stream: true }))
        buffer = parsed.rest
        events.push(...parsed.events)
        for (const w of waiters) w()
      }
    } catch {
      // aborted
    }
    for (const w of waiters) w()
  })()
  let ended = false
  void closed.then(() => (ended = true))
  const next = (predicate: (e: SseEvent) => boolean, label: string, timeoutMs = 10_000) =>
    new Promise<SseEvent>((resolve, reject) => {
      const check = () => {
        const found = events.find(predicate)
        if (found) {
          cleanup()
          resolve(found)
        } else if (ended) {
          cleanup()
          reject(new Error(`stream ended before: ${label} (got ${events.map((e) => e.type).join(",")})`))
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no event within ${timeoutMs} ms: ${label} (got ${events.map((e) => e.type).join(",")})`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  return { events, next, closed, close: () => abort.abort() }
}
