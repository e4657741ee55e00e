// The open sessions, by key (`<agent>/<conversation>`). Each has its own Semaphore(1) — what keeps
// it serial — its own Session (memory, compaction, `/new`), its running turn and its last one.
// Shared sessions open at start (their memory loads as the single session's always did); per-chat
// ones open on their first turn. At most SWITCHBOARD_MAX_SESSIONS stay open: beyond it the least
// recently used idle per-chat session is closed (its memory stays on disk and is read again).
import { Clock, Context, Effect, Exit, Layer, Option, Scope, Semaphore } from "effect"
import { Agents } from "../config/Agents.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { type SessionRef, sessionRef } from "../domain/agents.ts"
import { SessionUnavailable } from "../domain/errors.ts"
import type { Inbound } from "../domain/model.ts"
import { CommandQueue } from "./CommandQueue.ts"
import { Session } from "./Session.ts"
import { SessionMaker } from "./SessionMaker.ts"

export interface SessionTurn {
  readonly id: string
  readonly source: string
  readonly startedAt: number
}

export interface LastTurn extends SessionTurn {
  readonly outcome: string
  readonly durationMs: number
}

export interface OpenSession {
  readonly ref: SessionRef
  readonly session: Session["Service"]
  readonly lock: Semaphore.Semaphore
}

export interface SessionSummary {
  readonly key: string
  readonly agent: string
  readonly scope: SessionRef["scope"]
  readonly conversation: string
  readonly open: boolean
  readonly queued: number
  readonly active: (SessionTurn & { readonly ageMs: number }) | null
  readonly lastTurn: (Omit<LastTurn, "startedAt"> & { readonly finishedAt: string }) | null
  readonly turns: number
}

interface Entry extends OpenSession {
  readonly scope: Scope.Closeable | undefined
  holders: number
  lastUsed: number
  active: SessionTurn | undefined
}

/** What is known of a session whether or not it is open (a closed per-chat session keeps its figures). */
interface Record_ {
  readonly ref: SessionRef
  lastTurn: LastTurn | undefined
  turns: number
}

/** Records of sessions kept at most (closed ones beyond it are forgotten, oldest first). */
const MAX_RECORDS = 10_000

/** Requests from a source no agent serves any more (a stored request after the agents file changed). */
const UNBOUND_PREFIX = "unbound/"

export class Sessions extends Context.Service<Sessions, {
  /** The session key of a request; a source no agent serves gets a key of its own that no agent owns. */
  readonly keyOf: (request: Inbound) => string
  readonly refOf: (request: Inbound) => SessionRef | undefined
  /** Run `f` with the session open and its Semaphore(1) held: one turn at a time per session. */
  readonly withSession: <A, E, R>(
    ref: SessionRef,
    f: (open: OpenSession) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | SessionUnavailable, R>
  readonly turnStarted: (key: string, turn: SessionTurn) => Effect.Effect<void>
  readonly turnFinished: (key: string, turn: LastTurn) => Effect.Effect<void>
  readonly list: Effect.Effect<ReadonlyArray<SessionSummary>>
  /** The first shared session's Session (for the `session` section of /status), if one is open. */
  readonly primary: Effect.Effect<Session["Service"] | undefined>
}>()("switchboard/Sessions") {
  static readonly layer = Layer.effect(
    Sessions,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const agents = yield* Agents
      const queue = yield* CommandQueue
      const maker = yield* Effect.serviceOption(SessionMaker)
      const single = yield* Effect.serviceOption(Session)
      const layerScope = yield* Effect.scope
      const open = new Map<string, Entry>()
      const records = new Map<string, Record_>()
      const maxOpen = config.agents.maxSessions

      const refOf = (request: Inbound) => agents.resolve(request.source)
      const keyOf = (request: Inbound) => refOf(request)?.key ?? `${UNBOUND_PREFIX}${request.source}`

      const recordOf = (ref: SessionRef) => {
        let r = records.get(ref.key)
        if (r === undefined) {
          r = { ref, lastTurn: undefined, turns: 0 }
          records.set(ref.key, r)
          for (const [key] of records) {
            if (records.size <= MAX_RECORDS) break
            if (!open.has(key)) records.delete(key)
          }
        }
        return r
      }

      /** Close the least recently used idle per-chat session while more than the bound are open. */
      const evict = Effect.gen(function*() {
        while (open.size >= maxOpen) {
          let victim: Entry | undefined
          for (const e of open.values()) {
            if (e.ref.scope === "shared" || e.holders > 0) continue
            if (victim === undefined || e.lastUsed < victim.lastUsed) victim = e
          }
          if (victim === undefined) return
          open.delete(victim.ref.key)
          if (victim.scope !== undefined) yield* Scope.close(victim.scope, Exit.void)
          yield* Effect.logDebug("session closed (idle, over the bound)").pipe(Effect.annotateLogs({ session: victim.ref.key }))
        }
      })

      /** The open session, its holder count already raised (so that no eviction closes it under the caller). */
      const openSession = (ref: SessionRef) =>
        Effect.gen(function*() {
          const existing = open.get(ref.key)
          if (existing !== undefined) {
            existing.holders++
            return existing
          }
          yield* evict
          const lock = yield* Semaphore.make(1)
          let entry: Entry
          if (Option.isSome(maker)) {
            const scope = yield* Scope.fork(layerScope)
            const session = yield* maker.value.make(ref).pipe(
              Scope.provide(scope),
              Effect.onError(() => Scope.close(scope, Exit.void))
            )
            entry = { ref, session, lock, scope, holders: 0, lastUsed: 0, active: undefined }
          } else if (Option.isSome(single)) {
            entry = { ref, session: single.value, lock, scope: undefined, holders: 0, lastUsed: 0, active: undefined }
          } else {
            return yield* Effect.die("the graph has neither a Session nor a SessionMaker")
          }
          entry.holders++
          open.set(ref.key, entry)
          recordOf(ref)
          return entry
        })

      // Shared conversations open now, as the single session always did (memory read, errors at start).
      for (const agent of agents.list) {
        if (agent.scope !== "shared") continue
        const entry = yield* openSession(sessionRef(agent, "*"))
        entry.holders--
      }

      // Opened and released as one resource: an interruption anywhere still lowers the holder count.
      const withSession = <A, E, R>(ref: SessionRef, f: (open: OpenSession) => Effect.Effect<A, E, R>) =>
        Effect.acquireUseRelease(
          openSession(ref).pipe(Effect.mapError((e) => new SessionUnavailable({ key: ref.key, reason: e.message }))),
          (entry) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              entry.lastUsed = now
              return entry.lock.withPermit(f(entry))
            }),
          (entry) => Effect.sync(() => entry.holders--)
        )

      const turnStarted = (key: string, turn: SessionTurn) =>
        Effect.sync(() => {
          const entry = open.get(key)
          if (entry !== undefined) entry.active = turn
        })

      const turnFinished = (key: string, turn: LastTurn) =>
        Effect.sync(() => {
          const entry = open.get(key)
          if (entry !== undefined) entry.active = undefined
          const record = records.get(key)
          if (record !== undefined) {
            record.lastTurn = turn
            record.turns++
          }
        })

      const list = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const queued = new Map<string, number>()
        for (const item of yield* queue.pending) {
          const key = keyOf(item.request)
          queued.set(key, (queued.get(key) ?? 0) + 1)
        }
        return [...records.values()].map((r): SessionSummary => {
          const entry = open.get(r.ref.key)
          const active = entry?.active
          return {
            key: r.ref.key,
            agent: r.ref.agent,
            scope: r.ref.scope,
            conversation: r.ref.conversation,
            open: entry !== undefined,
            queued: queued.get(r.ref.key) ?? 0,
            active: active === undefined ? null : { ...active, ageMs: now - active.startedAt },
            lastTurn: r.lastTurn === undefined ? null : {
              id: r.lastTurn.id,
              source: r.lastTurn.source,
              outcome: r.lastTurn.outcome,
              durationMs: r.lastTurn.durationMs,
              finishedAt: new Date(r.lastTurn.startedAt + r.lastTurn.durationMs).toISOString()
            },
            turns: r.turns
          }
        })
      })

      const primary = Effect.sync(() => {
        for (const e of open.values()) if (e.ref.scope === "shared") return e.session
        return Option.getOrUndefined(single)
      })

      return Sessions.of({ keyOf, refOf, withSession, turnStarted, turnFinished, list, primary })
    })
  )
}
