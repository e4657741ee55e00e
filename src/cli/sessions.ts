// `switchboard sessions`: the daemon's sessions (agent + conversation), one line each, from /status.
import { Console, Effect, type Option, type Redacted } from "effect"
import { GatewayClient, withClient } from "./client.ts"

export interface SessionLine {
  readonly key: string
  readonly agent: string
  readonly scope: string
  readonly open: boolean
  readonly queued: number
  readonly active: { readonly id: string; readonly source: string; readonly ageMs: number } | null
  readonly lastTurn: { readonly outcome: string; readonly finishedAt: string; readonly durationMs: number } | null
  readonly turns: number
}

export const formatSessions = (sessions: ReadonlyArray<SessionLine>): string =>
  sessions.length === 0
    ? "no sessions"
    : sessions
      .map((s) =>
        [
          s.key.padEnd(32),
          s.scope.padEnd(8),
          `queued ${s.queued}`,
          s.active === null ? "idle" : `running ${s.active.id} for ${s.active.source} (${Math.round(s.active.ageMs / 1000)} s)`,
          s.lastTurn === null ? "no turn yet" : `last ${s.lastTurn.outcome} at ${s.lastTurn.finishedAt} (${s.lastTurn.durationMs} ms)`,
          `${s.turns} turn(s)`
        ].join("  ")
      )
      .join("\n")

/** Print the sessions (GET /status → sessions). Failures print one line and set exit code 1. */
export const sessionsCommand = (baseUrl: string, token: Option.Option<Redacted.Redacted<string>>, json = false) =>
  Effect.gen(function*() {
    const client = yield* GatewayClient
    const doc = yield* client.getJson<{ sessions?: ReadonlyArray<SessionLine> }>("/status")
    const sessions = doc.sessions ?? []
    yield* Console.log(json ? JSON.stringify(sessions, null, 2) : formatSessions(sessions))
  }).pipe(withClient(baseUrl, token))
