// A fake Slack on 127.0.0.1:<random>: the Web API methods the channel calls (POST /api/<method>,
// form-encoded or JSON, like @slack/web-api sends them) and a Socket Mode server (the URL that
// apps.connections.open hands out). Like Slack, it greets each connection with `hello`, sends
// events_api / interactive envelopes, expects each envelope to be acknowledged, delivers what was
// not acknowledged again after a reconnect with `retry_attempt` + 1, and can ask the client to
// reconnect (`disconnect` message) or cut the socket. Everything received is recorded, so tests
// assert what a Slack user would see. Start it with `fakeSlack` inside a Scope.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { type WebSocket, WebSocketServer } from "ws"
import { makeWatch } from "./watch.ts"

export const FAKE_BOT_TOKEN = "xoxb-fake-bot-token"
export const FAKE_APP_TOKEN = "xapp-fake-app-token"
export const BOT_USER_ID = "UBOT"
export const BOT_ID = "BBOT"

export interface WebCall {
  readonly method: string
  readonly payload: Record<string, any>
  readonly at: number
  /** What the fake answered (for chat.postMessage: the message's `ts`). */
  result?: Record<string, any>
}

export type ScriptedFailure =
  | { readonly rateLimited: number } // 429 with Retry-After: <seconds>
  | { readonly error: string } // { ok: false, error }
  | { readonly status: number } // an HTTP error (5xx)

export interface Envelope {
  readonly envelope_id: string
  readonly type: "events_api" | "interactive" | "slash_commands"
  readonly payload: Record<string, any>
  retry_attempt: number
  acked: boolean
}

export interface FakeSlack {
  /** The Web API root (`SLACK_API_ROOT`), ending in `/api/`. */
  readonly apiRoot: string
  readonly botToken: string
  readonly appToken: string
  readonly calls: Array<WebCall>
  readonly envelopes: Array<Envelope>
  /** Socket Mode connections opened so far. */
  readonly connections: () => number
  /** Whether a client is connected (and was greeted) right now. */
  readonly connected: () => boolean
  /** Send an Events API event (delivered now, or once a client connects). Returns the envelope. */
  readonly event: (event: Record<string, unknown>) => Envelope
  /** A user's message as an event. */
  readonly message: (channel: string, text: string, extra?: MessageExtra) => Envelope
  /** A person's slash command (`/stop`, …) in `channel`, as Socket Mode delivers it. */
  readonly slash: (channel: string, command: string, user?: string) => Envelope
  /** A press of button `index` (0-based, across the message's buttons) on a posted message. */
  readonly press: (posted: WebCall, index: number, user?: string) => Envelope
  /** Send `envelope` again as Slack does when it thinks the ack was late: retry_attempt + 1. */
  readonly redeliver: (envelope: Envelope, reason?: string) => void
  /** `disconnect` message (the client should reconnect), or cut the socket without a word. */
  readonly disconnect: (how?: "message" | "cut") => void
  /** Fail the next `times` calls of `method` that match `when`. */
  readonly fail: (method: string, failure: ScriptedFailure, options?: { times?: number; when?: (p: Record<string, any>) => boolean }) => void
  /** Refuse new Socket Mode connections (apps.connections.open fails) until called with false. */
  readonly refuseConnections: (refuse: boolean) => void
  /** Conversations known to conversations.info (DM channels with their user). */
  readonly conversations: Map<string, { readonly is_im: boolean; readonly user?: string }>
  readonly callsOf: (method: string, channel?: string) => Array<WebCall>
  /** Texts posted with chat.postMessage to `channel` (top level, or the thread `threadTs`), in order. */
  readonly texts: (channel: string, threadTs?: string) => Array<string>
  /** Resolves once `predicate` holds (checked on every call, ack and connection); dies after `timeoutMs`. */
  readonly waitFor: (label: string, predicate: () => boolean, timeoutMs?: number) => Effect.Effect<void>
}

export interface MessageExtra {
  readonly user?: string
  readonly ts?: string
  readonly threadTs?: string
  readonly channelType?: string
  readonly botId?: string
  readonly subtype?: string
  readonly files?: ReadonlyArray<unknown>
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  if (res.writableEnded || res.destroyed) return
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

/** Form fields as @slack/web-api sends them: objects (blocks) are JSON strings. */
const decodeBody = (req: IncomingMessage, body: string): Record<string, any> => {
  if (body.length === 0) return {}
  if ((req.headers["content-type"] ?? "").includes("application/json")) return JSON.parse(body)
  const out: Record<string, any> = {}
  for (const [k, v] of new URLSearchParams(body)) {
    out[k] = /^[[{]/.test(v) ? (() => {
      try {
        return JSON.parse(v)
      } catch {
        return v
      }
    })() : v
  }
  return out
}

/** The buttons of a posted message, in order. */
export const buttonsOf = (posted: WebCall): Array<{ action_id: string; value: string; text: string; block_id: string }> =>
  ((posted.payload["blocks"] ?? []) as Array<any>).flatMap((b) =>
    b.type === "actions"
      ? (b.elements as Array<any>).filter((e) => e.type === "button").map((e) => ({
        action_id: e.action_id,
        value: e.value,
        text: e.text.text,
        block_id: b.block_id
      }))
      : []
  )

export const fakeSlack = Effect.acquireRelease(
  Effect.callback<{ fake: FakeSlack; close: () => Promise<void> }>((resume) => {
    const calls: Array<WebCall> = []
    const envelopes: Array<Envelope> = []
    const scripts: Array<{ method: string; failure: ScriptedFailure; times: number; when: (p: Record<string, any>) => boolean }> = []
    const conversations = new Map<string, { is_im: boolean; user?: string }>()
    const state = { ts: 1_700_000_000_000_100, envelope: 0, ticket: 0, connections: 0, refuse: false, socket: undefined as WebSocket | undefined, port: 0 }
    const watch = makeWatch(() =>
      `calls: ${JSON.stringify(calls.map((c) => [c.method, c.payload["channel"], c.payload["text"]]))}\nenvelopes: ${
        JSON.stringify(envelopes.map((e) => [e.envelope_id, e.type, e.acked, e.retry_attempt]))
      }`
    )
    const notify = watch.notify
    const nextTs = () => {
      const n = state.ts++
      return `${Math.floor(n / 1_000_000)}.${String(n % 1_000_000).padStart(6, "0")}`
    }

    const sendEnvelope = (envelope: Envelope) => {
      const socket = state.socket
      if (socket === undefined || socket.readyState !== socket.OPEN) return
      socket.send(JSON.stringify({
        envelope_id: envelope.envelope_id,
        type: envelope.type,
        payload: envelope.payload,
        accepts_response_payload: false,
        ...(envelope.type === "events_api"
          ? { retry_attempt: envelope.retry_attempt, retry_reason: envelope.retry_attempt > 0 ? "timeout" : "" }
          : {})
      }))
    }

    const enqueue = (type: Envelope["type"], payload: Record<string, any>): Envelope => {
      const envelope: Envelope = { envelope_id: `env-${++state.envelope}`, type, payload, retry_attempt: 0, acked: false }
      envelopes.push(envelope)
      sendEnvelope(envelope)
      notify()
      return envelope
    }

    const answer = (call: WebCall, token: string, res: ServerResponse) => {
      const { method, payload } = call
      const wanted = method === "apps.connections.open" ? FAKE_APP_TOKEN : FAKE_BOT_TOKEN
      if (token !== wanted) return json(res, 200, { ok: false, error: "invalid_auth" })
      const script = scripts.find((s) => s.method === method && s.times > 0 && s.when(payload))
      if (script) {
        script.times--
        const f = script.failure
        if ("rateLimited" in f) return json(res, 429, { ok: false, error: "ratelimited" }, { "retry-after": String(f.rateLimited) })
        if ("status" in f) return json(res, f.status, { ok: false, error: "internal_error" })
        return json(res, 200, { ok: false, error: f.error })
      }
      switch (method) {
        case "apps.connections.open":
          if (state.refuse) return json(res, 503, { ok: false, error: "service_unavailable" })
          return json(res, 200, { ok: true, url: `ws://127.0.0.1:${state.port}/link/?ticket=${++state.ticket}` })
        case "auth.test":
          return json(res, 200, { ok: true, url: "https://fake.slack.com/", team: "Fake", user: "switchboard", team_id: "T1", user_id: BOT_USER_ID, bot_id: BOT_ID })
        case "chat.postMessage": {
          const ts = nextTs()
          call.result = { ts }
          return json(res, 200, {
            ok: true,
            channel: payload["channel"],
            ts,
            message: { type: "message", text: payload["text"], user: BOT_USER_ID, bot_id: BOT_ID, ts, ...(payload["blocks"] ? { blocks: payload["blocks"] } : {}), ...(payload["thread_ts"] ? { thread_ts: payload["thread_ts"] } : {}) }
          })
        }
        case "chat.update":
          return json(res, 200, { ok: true, channel: payload["channel"], ts: payload["ts"], text: payload["text"] })
        case "chat.postEphemeral":
          return json(res, 200, { ok: true, message_ts: nextTs() })
        case "conversations.info": {
          const known = conversations.get(String(payload["channel"]))
          if (known === undefined) return json(res, 200, { ok: false, error: "channel_not_found" })
          return json(res, 200, { ok: true, channel: { id: payload["channel"], ...known } })
        }
        default:
          return json(res, 200, { ok: false, error: "unknown_method" })
      }
    }

    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const m = /^\/api\/([\w.]+)$/.exec(req.url ?? "")
        if (m === null || req.method !== "POST") return json(res, 404, { ok: false, error: "unknown_method" })
        let payload: Record<string, any>
        try {
          payload = decodeBody(req, Buffer.concat(chunks).toString("utf8"))
        } catch {
          return json(res, 200, { ok: false, error: "invalid_form_data" })
        }
        const token = (req.headers.authorization ?? "").replace(/^Bearer /, "")
        const call: WebCall = { method: m[1]!, payload, at: Date.now() }
        calls.push(call)
        answer(call, token, res)
        notify()
      })
    })

    const wss = new WebSocketServer({ noServer: true })
    server.on("upgrade", (req, socket, head) => {
      if (!(req.url ?? "").startsWith("/link/")) return socket.destroy()
      wss.handleUpgrade(req, socket, head, (ws) => {
        state.connections++
        state.socket?.terminate() // Slack may keep several; one at a time keeps the fake simple
        state.socket = ws
        ws.on("message", (data) => {
          let ack: { envelope_id?: unknown }
          try {
            ack = JSON.parse(String(data))
          } catch {
            return
          }
          const envelope = envelopes.find((e) => e.envelope_id === ack.envelope_id)
          if (envelope !== undefined) envelope.acked = true
          notify()
        })
        ws.on("close", () => {
          if (state.socket === ws) state.socket = undefined
          notify()
        })
        ws.send(JSON.stringify({ type: "hello", num_connections: 1, connection_info: { app_id: "A1" }, debug_info: { host: "fake" } }))
        // What was never acknowledged comes again, as Slack retries it.
        for (const e of envelopes.filter((e) => !e.acked)) {
          if (e.type === "events_api" && state.connections > 1) e.retry_attempt++
          sendEnvelope(e)
        }
        notify()
      })
    })

    const fake: FakeSlack = {
      apiRoot: "",
      botToken: FAKE_BOT_TOKEN,
      appToken: FAKE_APP_TOKEN,
      calls,
      envelopes,
      conversations,
      connections: () => state.connections,
      connected: () => state.socket !== undefined && state.socket.readyState === state.socket.OPEN,
      event: (event) =>
        enqueue("events_api", {
          token: "verification",
          team_id: "T1",
          api_app_id: "A1",
          type: "event_callback",
          event_id: `Ev${state.envelope + 1}`,
          event_time: Math.floor(Date.now() / 1000),
          event
        }),
      message: (channel, text, extra = {}) =>
        fake.event({
          type: "message",
          channel,
          channel_type: extra.channelType ?? (channel.startsWith("D") ? "im" : "channel"),
          text,
          ts: extra.ts ?? nextTs(),
          ...(extra.botId !== undefined ? { bot_id: extra.botId } : { user: extra.user ?? "UANN" }),
          ...(extra.threadTs !== undefined ? { thread_ts: extra.threadTs } : {}),
          ...(extra.subtype !== undefined ? { subtype: extra.subtype } : {}),
          ...(extra.files !== undefined ? { files: extra.files } : {})
        }),
      press: (posted, index, user = "UANN") => {
        const button = buttonsOf(posted)[index]
        if (button === undefined) throw new Error(`no button ${index} on that message`)
        const channel = String(posted.payload["channel"])
        const response = posted.result?.["ts"] as string | undefined
        return enqueue("interactive", {
          type: "block_actions",
          user: { id: user, username: user.toLowerCase(), name: user.toLowerCase() },
          api_app_id: "A1",
          team: { id: "T1" },
          channel: { id: channel },
          container: { type: "message", channel_id: channel, message_ts: response, ...(posted.payload["thread_ts"] ? { thread_ts: posted.payload["thread_ts"] } : {}) },
          message: { type: "message", ts: response, text: posted.payload["text"], blocks: posted.payload["blocks"], user: BOT_USER_ID, bot_id: BOT_ID },
          trigger_id: `trigger-${state.envelope}`,
          response_url: `http://127.0.0.1:${state.port}/response/${state.envelope}`,
          actions: [{ type: "button", action_id: button.action_id, block_id: button.block_id, value: button.value, text: { type: "plain_text", text: button.text }, action_ts: nextTs() }]
        })
      },
      slash: (channel, command, user = "UANN") =>
        enqueue("slash_commands", {
          token: "legacy",
          team_id: "T1",
          channel_id: channel,
          channel_name: channel.toLowerCase(),
          user_id: user,
          user_name: user.toLowerCase(),
          command,
          text: "",
          api_app_id: "A1",
          response_url: `http://127.0.0.1:${state.port}/response/${state.envelope + 1}`,
          trigger_id: `trigger-${state.envelope + 1}`
        }),
      redeliver: (envelope) => {
        envelope.retry_attempt++
        sendEnvelope(envelope)
      },
      disconnect: (how = "message") => {
        const socket = state.socket
        if (socket === undefined) return
        if (how === "cut") socket.terminate()
        else socket.send(JSON.stringify({ type: "disconnect", reason: "refresh_requested", debug_info: { host: "fake" } }))
      },
      fail: (method, failure, options = {}) =>
        scripts.push({ method, failure, times: options.times ?? 1, when: options.when ?? (() => true) }),
      refuseConnections: (refuse) => {
        state.refuse = refuse
      },
      callsOf: (method, channel) =>
        calls.filter((c) => c.method === method && (channel === undefined || c.payload["channel"] === channel)),
      texts: (channel, threadTs) =>
        calls
          .filter((c) => c.method === "chat.postMessage" && c.payload["channel"] === channel && c.payload["thread_ts"] === threadTs)
          .map((c) => String(c.payload["text"])),
      waitFor: watch.waitFor
    }

    server.listen(0, "127.0.0.1", () => {
      state.port = (server.address() as AddressInfo).port
      Object.assign(fake, { apiRoot: `http://127.0.0.1:${state.port}/api/` })
      resume(Effect.succeed({
        fake,
        close: () =>
          new Promise<void>((done) => {
            for (const client of wss.clients) client.terminate()
            wss.close()
            server.closeAllConnections()
            server.close(() => done())
          })
      }))
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ fake }) => fake))
