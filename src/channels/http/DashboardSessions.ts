// Dashboard sessions: the page posts the bearer token once (POST /ui/login) and gets an HttpOnly,
// SameSite=Strict cookie; the token itself never reaches the page's storage. Each session has a
// CSRF token that mutating dashboard actions must carry in `x-csrf-token`. Sessions are bounded in
// number (the oldest ends beyond SWITCHBOARD_DASHBOARD_MAX_SESSIONS) and in lifetime
// (SWITCHBOARD_DASHBOARD_SESSION_LIFETIME); they live in memory, so a restart logs everyone out.
import { randomBytes, timingSafeEqual } from "node:crypto"
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"

export const SESSION_COOKIE = "sb_session"

export interface DashboardSession {
  readonly id: string
  readonly csrf: string
  readonly expiresAt: number
}

const token = () => randomBytes(32).toString("base64url")

export const sameToken = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export class DashboardSessions extends Context.Service<DashboardSessions, {
  readonly create: Effect.Effect<DashboardSession>
  /** The live session with this id, if any (expired ones are forgotten here). */
  readonly find: (id: string) => Effect.Effect<DashboardSession | undefined>
  readonly end: (id: string) => Effect.Effect<void>
  readonly count: Effect.Effect<number>
  readonly lifetimeMs: number
}>()("switchboard/DashboardSessions") {
  static readonly layer = Layer.effect(
    DashboardSessions,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const { maxSessions } = config.dashboard
      const lifetimeMs = Duration.toMillis(config.dashboard.sessionLifetime)
      // Insertion order is age order: the first entry is the oldest.
      const sessions = new Map<string, DashboardSession>()

      const sweep = (now: number) => {
        for (const [id, s] of sessions) if (s.expiresAt <= now) sessions.delete(id)
      }

      const create = Effect.map(Clock.currentTimeMillis, (now) => {
        sweep(now)
        while (sessions.size >= maxSessions) sessions.delete(sessions.keys().next().value!)
        const session: DashboardSession = { id: token(), csrf: token(), expiresAt: now + lifetimeMs }
        sessions.set(session.id, session)
        return session
      })

      const find = (id: string) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const s = sessions.get(id)
          if (s === undefined) return undefined
          if (s.expiresAt <= now) {
            sessions.delete(id)
            return undefined
          }
          return s
        })

      return DashboardSessions.of({
        create,
        find,
        end: (id) => Effect.sync(() => void sessions.delete(id)),
        count: Effect.map(Clock.currentTimeMillis, (now) => {
          sweep(now)
          return sessions.size
        }),
        lifetimeMs
      })
    })
  )
}
