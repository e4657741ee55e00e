// The gateway half of the fake Discord: a WebSocket server that speaks enough of Discord's gateway
// protocol for @discordjs/ws — HELLO, IDENTIFY → READY, heartbeats and their acks, RESUME with a
// replay of what the session missed, INVALID_SESSION, and forced disconnects. Dispatches are kept
// per session with their sequence numbers, so a resume replays exactly what Discord would.
import type { Server } from "node:http"
import { type WebSocket, WebSocketServer } from "ws"

export interface GatewayOptions {
  /** HELLO's heartbeat_interval. Discord's is about 41 s. */
  heartbeatMs: number
  /** Ack heartbeats (off: a zombie connection the client must notice). */
  ackHeartbeats: boolean
  /** The portal's Message Content switch is off: an identify asking for it (1 << 15) is closed with 4014. */
  messageContentDisabled: boolean
  /** On resume, also replay this many events the client had already seen (a redelivery). */
  resumeOverlap: number
  /** While down, every connection is cut before HELLO. */
  down: boolean
}

export interface GatewayStats {
  connections: number
  identifies: Array<{ readonly intents: number; readonly token: string }>
  resumes: number
  heartbeats: number
  readies: number
  /** Close codes of connections the bot closed itself (1000 at a clean stop). */
  clientCloses: Array<number>
}

interface Session {
  readonly id: string
  seq: number
  readonly log: Array<{ readonly s: number; readonly t: string; readonly d: unknown }>
  resumable: boolean
  socket: WebSocket | undefined
}

export const makeGateway = (server: Server, config: {
  readonly token: string
  readonly user: Record<string, unknown>
  readonly applicationId: string
  readonly wsUrl: () => string
  readonly changed: () => void
}) => {
  const options: GatewayOptions = {
    heartbeatMs: 41_250,
    ackHeartbeats: true,
    messageContentDisabled: false,
    resumeOverlap: 0,
    down: false
  }
  const stats: GatewayStats = { connections: 0, identifies: [], resumes: 0, heartbeats: 0, readies: 0, clientCloses: [] }
  const wss = new WebSocketServer({ server })
  const sessions = new Map<string, Session>()
  /** Sockets the fake itself closed (their close codes are not the client's). */
  const forced = new WeakSet<WebSocket>()
  let current: Session | undefined
  let nextSession = 1

  const send = (socket: WebSocket, payload: unknown) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload))
  }

  wss.on("connection", (socket) => {
    stats.connections++
    config.changed()
    if (options.down) {
      forced.add(socket)
      socket.terminate()
      return
    }
    let session: Session | undefined
    send(socket, { op: 10, d: { heartbeat_interval: options.heartbeatMs }, s: null, t: null })
    socket.on("message", (raw) => {
      let payload: { op?: number; d?: any }
      try {
        payload = JSON.parse(String(raw))
      } catch {
        socket.close(4002, "Decode error")
        return
      }
      switch (payload.op) {
        case 1: {
          stats.heartbeats++
          if (options.ackHeartbeats) send(socket, { op: 11, d: null, s: null, t: null })
          break
        }
        case 2: {
          const d = payload.d ?? {}
          stats.identifies.push({ intents: Number(d.intents), token: String(d.token) })
          if (d.token !== config.token) {
            forced.add(socket)
            socket.close(4004, "Authentication failed")
            break
          }
          if (options.messageContentDisabled && (Number(d.intents) & (1 << 15)) !== 0) {
            forced.add(socket)
            socket.close(4014, "Disallowed intent(s)")
            break
          }
          if (current?.socket !== undefined && current.socket !== socket) {
            forced.add(current.socket)
            current.socket.terminate()
          }
          session = { id: `session-${nextSession++}`, seq: 0, log: [], resumable: true, socket }
          sessions.set(session.id, session)
          current = session
          stats.readies++
          dispatchTo(session, "READY", {
            v: 10,
            user: config.user,
            session_id: session.id,
            resume_gateway_url: config.wsUrl(),
            application: { id: config.applicationId, flags: 0 },
            guilds: []
          })
          break
        }
        case 6: {
          const d = payload.d ?? {}
          const known = sessions.get(String(d.session_id))
          if (known === undefined || !known.resumable || d.token !== config.token) {
            send(socket, { op: 9, d: false, s: null, t: null })
            break
          }
          stats.resumes++
          known.socket = socket
          session = known
          current = known
          const from = Math.max(0, Number(d.seq) - options.resumeOverlap)
          for (const event of known.log.filter((e) => e.s > from)) send(socket, { op: 0, ...event })
          known.seq++
          send(socket, { op: 0, s: known.seq, t: "RESUMED", d: {} })
          break
        }
      }
      config.changed()
    })
    socket.on("close", (code) => {
      if (!forced.has(socket)) stats.clientCloses.push(code)
      if (session?.socket === socket) session.socket = undefined
      config.changed()
    })
  })

  const dispatchTo = (session: Session, t: string, d: unknown) => {
    session.seq++
    const event = { s: session.seq, t, d }
    if (t !== "READY") session.log.push(event)
    if (session.socket !== undefined) send(session.socket, { op: 0, ...event })
    config.changed()
  }

  return {
    options,
    stats,
    /** Whether a session is up with a socket (events dispatched now arrive at once). */
    connected: () => current?.socket !== undefined && current.socket.readyState === current.socket.OPEN,
    /**
     * Send an event to the bot's session. Without a socket (a disconnect) it waits in the session
     * for a resume; without a session at all (never identified) Discord would not deliver it.
     */
    dispatch: (t: string, d: unknown) => {
      if (current !== undefined) dispatchTo(current, t, d)
    },
    /** Cut the connection with `code`; a session that is not resumable must identify again (events missed are gone). */
    disconnect: (code = 4000, resumable = true) => {
      if (current === undefined) return
      current.resumable = resumable
      if (!resumable) current = undefined
      for (const client of wss.clients) {
        forced.add(client)
        client.close(code, "forced by the test")
      }
    },
    /** Ask the client to reconnect and resume (op 7), as Discord does before maintenance. */
    requestReconnect: () => {
      if (current?.socket !== undefined) send(current.socket, { op: 7, d: null, s: null, t: null })
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resolve())
      })
  }
}

export type FakeGateway = ReturnType<typeof makeGateway>
