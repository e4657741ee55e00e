// A fake Telegram Bot API on 127.0.0.1:<random>, close enough to the real one for grammY's client:
// getUpdates long-polls and honours offset (updates below it are confirmed and gone) and timeout;
// sendMessage & co. answer like Telegram. Every call is recorded. Tests push updates and script
// failures (429 with retry_after, 400 "can't parse entities", 403 "bot was blocked", …).
// Like Telegram, a getUpdates that arrives while another is open ends the earlier one with 409
// "terminated by other getUpdates request": two pollers of one bot show up as conflicts, counted.
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { makeWatch } from "./watch.ts"

export const FAKE_TOKEN = "123456:fake-token"

export interface ApiCall {
  readonly method: string
  readonly payload: Record<string, any>
  readonly at: number
  /** The API root's path segment before `/bot…` (`d1` for `${url}/d1`): which of several clients called. */
  readonly prefix?: string | undefined
}

export interface ScriptedFailure {
  readonly code: number
  /** Left out of the answer when undefined (as some proxies and emulators do). */
  readonly description: string | undefined
  readonly retryAfter?: number
}

export interface FakeBotApi {
  readonly url: string
  readonly token: string
  readonly calls: Array<ApiCall>
  /** Queue updates; an update without update_id gets the next one. Returns the ids. */
  readonly push: (...updates: Array<Record<string, unknown>>) => Array<number>
  /** Fail the next `times` calls of `method` that match `when` (default: every call) with `failure`. */
  readonly fail: (method: string, failure: ScriptedFailure, options?: { times?: number; when?: (payload: Record<string, any>) => boolean }) => void
  /** Do not answer the next `times` calls of `method` (default: every call) until `release`. */
  readonly hold: (method: string, times?: number) => void
  /** Answer the held calls of `method` now, as the fake would have. */
  readonly release: (method: string) => void
  /** Calls of one method (optionally for one chat). */
  readonly callsOf: (method: string, chatId?: number) => Array<ApiCall>
  /** Texts sent with sendMessage to `chatId` (and topic), in order. */
  readonly texts: (chatId: number, threadId?: number) => Array<string>
  /** Earlier getUpdates ended with 409 because another one came in while they were open. */
  readonly conflicts: () => number
  /** The most getUpdates open at once (the newcomer included): 1 when one poller at a time. */
  readonly maxPollsInFlight: () => number
  /** getUpdates open right now (long polls waiting, held ones). */
  readonly pollsOpen: () => number
  /** Resolves once `predicate` holds (checked at every call and push); fails after `timeoutMs`. */
  readonly waitFor: (label: string, predicate: () => boolean, timeoutMs?: number) => Effect.Effect<void>
}

/** Updates a test sends, shaped like Telegram's. */
export const textUpdate = (
  chatId: number,
  text: string,
  extra: { threadId?: number; updateId?: number; from?: number; type?: string } = {}
): Record<string, unknown> => ({
  ...(extra.updateId !== undefined ? { update_id: extra.updateId } : {}),
  message: {
    message_id: Math.floor(Math.random() * 1e6),
    date: 1_700_000_000,
    chat: { id: chatId, type: extra.type ?? (chatId < 0 ? "supergroup" : "private") },
    from: { id: extra.from ?? Math.abs(chatId), is_bot: false, first_name: "Ann", username: "ann" },
    text,
    ...(extra.threadId !== undefined ? { message_thread_id: extra.threadId, is_topic_message: true } : {})
  }
})

export const photoUpdate = (chatId: number): Record<string, unknown> => ({
  message: {
    message_id: 7,
    date: 1_700_000_000,
    chat: { id: chatId, type: "private" },
    from: { id: chatId, is_bot: false, first_name: "Ann" },
    photo: [{ file_id: "f", file_unique_id: "u", width: 1, height: 1 }]
  }
})

/** A button press on `message` (a sendMessage call's result as the fake recorded it). */
export const callbackUpdate = (chatId: number, message: Record<string, unknown>, data: string, from = chatId) => ({
  callback_query: {
    id: `cq-${Math.floor(Math.random() * 1e9)}`,
    from: { id: from, is_bot: false, first_name: "Ann" },
    chat_instance: "ci",
    message,
    data
  }
})

const send = (res: ServerResponse, status: number, body: unknown) => {
  if (res.writableEnded || res.destroyed) return
  res.writeHead(status, { "content-type": "application/json" })
  res.end(JSON.stringify(body))
}

export const CONFLICT_DESCRIPTION =
  "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

const failureBody = (f: ScriptedFailure) => ({
  ok: false,
  error_code: f.code,
  ...(f.description !== undefined ? { description: f.description } : {}),
  ...(f.retryAfter !== undefined ? { parameters: { retry_after: f.retryAfter } } : {})
})

/** Start the fake; it stops when the enclosing Scope closes. */
export const fakeBotApi = Effect.acquireRelease(
  Effect.callback<{ api: FakeBotApi; close: () => Promise<void> }>((resume) => {
    const calls: Array<ApiCall> = []
    let pending: Array<Record<string, any>> = []
    let nextUpdateId = 100
    let nextMessageId = 1
    const scripts: Array<{ method: string; failure: ScriptedFailure; times: number; when: (p: Record<string, any>) => boolean }> = []
    const pollers = new Set<() => void>()
    const holds: Array<{ method: string; times: number }> = []
    const held: Array<{ method: string; answer: () => void }> = []
    const openPolls = new Set<ServerResponse>()
    let conflicts = 0
    let maxPollsInFlight = 0
    const watch = makeWatch(() =>
      `calls: ${JSON.stringify(calls.map((c) => [c.method, c.payload["chat_id"], c.payload["text"] ?? c.payload["offset"]]))}`
    )
    const notify = watch.notify

    const answer = (method: string, payload: Record<string, any>, res: ServerResponse) => {
      const hold = holds.find((h) => h.method === method && h.times > 0)
      if (hold) {
        hold.times--
        held.push({ method, answer: () => answer(method, payload, res) })
        return
      }
      const script = scripts.find((s) => s.method === method && s.times > 0 && s.when(payload))
      if (script) {
        script.times--
        return send(res, script.failure.code, failureBody(script.failure))
      }
      switch (method) {
        case "getMe":
          return send(res, 200, { ok: true, result: { id: 123456, is_bot: true, first_name: "Switchboard", username: "switchboard_test_bot" } })
        case "getUpdates": {
          const offset = typeof payload["offset"] === "number" ? payload["offset"] : undefined
          if (offset !== undefined) pending = pending.filter((u) => u["update_id"] >= offset) // confirmed
          const limit = typeof payload["limit"] === "number" ? payload["limit"] : 100
          const reply = () => send(res, 200, { ok: true, result: pending.slice(0, limit) })
          if (pending.length > 0) return reply()
          const timeoutMs = Number(payload["timeout"] ?? 0) * 1000
          if (timeoutMs <= 0) return reply()
          const wake = () => {
            clearTimeout(timer)
            pollers.delete(wake)
            reply()
          }
          const timer = setTimeout(wake, timeoutMs)
          pollers.add(wake)
          res.on("close", () => {
            clearTimeout(timer)
            pollers.delete(wake)
          })
          return
        }
        case "sendMessage": {
          const message = {
            message_id: nextMessageId++,
            date: Math.floor(Date.now() / 1000),
            chat: { id: payload["chat_id"], type: "private" },
            text: payload["text"],
            ...(payload["message_thread_id"] !== undefined
              ? { message_thread_id: payload["message_thread_id"], is_topic_message: true }
              : {}),
            ...(payload["reply_markup"] !== undefined ? { reply_markup: payload["reply_markup"] } : {})
          }
          return send(res, 200, { ok: true, result: message })
        }
        case "editMessageText":
        case "editMessageReplyMarkup":
          return send(res, 200, { ok: true, result: { message_id: payload["message_id"], chat: { id: payload["chat_id"] } } })
        default:
          return send(res, 200, { ok: true, result: true })
      }
    }

    /** Count the open getUpdates; end the earlier ones as Telegram does. */
    const poll = (res: ServerResponse) => {
      const before = [...openPolls]
      openPolls.add(res)
      maxPollsInFlight = Math.max(maxPollsInFlight, 1)
      const done = () => {
        if (openPolls.delete(res)) notify()
      }
      res.once("finish", done)
      res.once("close", done)
      // A moment later, once the close of a request its client aborted has arrived: a poller that
      // gives up its long poll and asks again (a stop's confirming call) is not a second poller.
      setTimeout(() => {
        const earlier = before.filter((r) => openPolls.has(r) && !r.writableEnded && !r.destroyed)
        maxPollsInFlight = Math.max(maxPollsInFlight, earlier.length + 1)
        for (const r of earlier) {
          conflicts++
          send(r, 409, { ok: false, error_code: 409, description: CONFLICT_DESCRIPTION })
        }
        if (earlier.length > 0) notify()
      }, 50).unref()
    }

    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const m = /^(?:\/([\w-]+))?\/bot([^/]+)\/(\w+)$/.exec(req.url ?? "")
        if (m === null || m[2] !== FAKE_TOKEN) {
          return send(res, m === null ? 404 : 401, { ok: false, error_code: 401, description: "Unauthorized" })
        }
        let payload: Record<string, any> = {}
        try {
          const body = Buffer.concat(chunks).toString("utf8")
          payload = body.length > 0 ? JSON.parse(body) : {}
        } catch {
          return send(res, 400, { ok: false, error_code: 400, description: "Bad Request: invalid JSON" })
        }
        calls.push({ method: m[3]!, payload, at: Date.now(), prefix: m[1] })
        if (m[3] === "getUpdates") poll(res)
        answer(m[3]!, payload, res)
        notify()
      })
    })

    const api: FakeBotApi = {
      url: "",
      token: FAKE_TOKEN,
      calls,
      push: (...updates) => {
        const ids = updates.map((u) => {
          const id = typeof u["update_id"] === "number" ? u["update_id"] : nextUpdateId++
          pending.push({ ...u, update_id: id })
          return id
        })
        for (const p of [...pollers]) p()
        notify()
        return ids
      },
      fail: (method, failure, options = {}) =>
        scripts.push({ method, failure, times: options.times ?? 1, when: options.when ?? (() => true) }),
      hold: (method, times = Number.POSITIVE_INFINITY) => void holds.push({ method, times }),
      release: (method) => {
        for (const h of holds) if (h.method === method) h.times = 0
        const now = held.filter((h) => h.method === method)
        held.splice(0, held.length, ...held.filter((h) => h.method !== method))
        for (const h of now) h.answer()
      },
      callsOf: (method, chatId) =>
        calls.filter((c) => c.method === method && (chatId === undefined || c.payload["chat_id"] === chatId)),
      texts: (chatId, threadId) =>
        calls
          .filter((c) => c.method === "sendMessage" && c.payload["chat_id"] === chatId && c.payload["message_thread_id"] === threadId)
          .map((c) => String(c.payload["text"])),
      conflicts: () => conflicts,
      maxPollsInFlight: () => maxPollsInFlight,
      pollsOpen: () => openPolls.size,
      waitFor: watch.waitFor
    }

    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      Object.assign(api, { url: `http://127.0.0.1:${port}` })
      resume(Effect.succeed({
        api,
        close: () =>
          new Promise<void>((done) => {
            for (const p of [...pollers]) p()
            server.closeAllConnections()
            server.close(() => done())
          })
      }))
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ api }) => api))
