// One inbound entry → the gateway, and the verdict for the read loop (acknowledge, dead-letter,
// wait, stop). An entry is acknowledged only once it is accepted, i.e. committed to the Store (the
// verdict is returned after the commit; the read loop XACKs after the verdict): a message once
// Intake has queued it, a system event once it is enqueued, a notify once the Router delivered it
// or holds it in its (write-ahead) outbox, a check result once its check's state machine took it. Each entry's dedupe id
// (the publisher's `id`, else the stream id) makes a retried publish and a redelivery count once.
import { Agents } from "../../config/Agents.ts"
import { Unbound } from "../../domain/errors.ts"
import { Clock, Effect, Option, Tracer } from "effect"
import type { Checks } from "../../checks/Checks.ts"
import type { Triage } from "../../checks/Triage.ts"
import { systemEventItem } from "../../checks/triageRules.ts"
import type { CommandQueue } from "../../core/CommandQueue.ts"
import type { Intake } from "../../core/Intake.ts"
import type { Router } from "../../core/Router.ts"
import { channelOf } from "../../domain/source.ts"
import { parseTraceparent } from "../../domain/traceparent.ts"
import type { HeartbeatWake } from "../../heartbeat/HeartbeatWake.ts"
import type { SystemEvents } from "../../heartbeat/SystemEvents.ts"
import type { RawEntry, Verdict } from "./consumer.ts"
import { type BusEntry, dedupeId, ENTRY_TYPES, type EntryOf, fieldsOf, makeDecoder } from "./entries.ts"
import type { BusStats } from "./stats.ts"

export interface HandlerDeps {
  readonly intake: Intake["Service"]
  /** Which sources an agent serves: an event for a chat none serves would never be relayed. */
  readonly agents: Agents["Service"]
  readonly router: Router["Service"]
  readonly queue: CommandQueue["Service"]
  readonly events: SystemEvents["Service"]
  readonly wake: HeartbeatWake["Service"]
  readonly checks: Option.Option<Checks["Service"]>
  readonly triage: Option.Option<Triage["Service"]>
  readonly stats: BusStats
  readonly maxText: number
}

const accepted = (type: string): Verdict => ({ _tag: "Ack", type, outcome: "accepted" })
const dead = (type: string, code: Extract<Verdict, { _tag: "Dead" }>["code"], reason: string): Verdict => ({
  _tag: "Dead",
  type,
  code,
  reason
})

export const makeHandler = (deps: HandlerDeps) => {
  const { intake, router, queue, events, wake, stats } = deps
  const decode = makeDecoder(deps.maxText)

  /** For the types that do not pass through the queue: a repeat of an id already taken is acknowledged. */
  const once = (type: string, id: string, take: Effect.Effect<Verdict>) =>
    Effect.gen(function*() {
      if (yield* queue.isDuplicate(id)) {
        stats.duplicates++
        return { _tag: "Ack", type, outcome: "duplicate" } as const
      }
      const verdict = yield* take
      if (verdict._tag === "Ack") yield* queue.remember(id)
      return verdict
    })

  const message = (entry: EntryOf<"message">, id: string) =>
    intake.submit({ id, source: entry.source, text: entry.text, priority: entry.priority ?? "event" }).pipe(
      Effect.map((result): Verdict => {
        if (result._tag !== "Duplicate") return accepted("message")
        stats.duplicates++
        return { _tag: "Ack", type: "message", outcome: "duplicate" }
      }),
      Effect.catchTags({
        QueueFull: (e) => Effect.succeed<Verdict>({ _tag: "Wait", why: e.message }),
        HandoffFailed: (e) => Effect.succeed<Verdict>({ _tag: "Wait", why: e.message }),
        ShuttingDown: () => Effect.succeed<Verdict>({ _tag: "Stop" }),
        Unbound: (e) => Effect.succeed(dead("message", "unbound", e.message))
      })
    )

  const reachable = (target: string) =>
    Effect.map(router.stats, (s) => {
      const channel = channelOf(target) ?? ""
      return s.channels.includes(channel)
        ? undefined
        : `no running channel delivers to ${target} (running: ${s.channels.join(", ")})`
    })

  const systemEvent = (entry: EntryOf<"system-event">, id: string) =>
    once("system-event", id, Effect.gen(function*() {
      // An event for a chat nobody can reach would be relayed into the void (and consumed).
      const unreachable = yield* reachable(entry.sessionKey)
      if (unreachable !== undefined) return dead("system-event", "unknown_target", unreachable)
      if (deps.agents.resolve(entry.sessionKey) === undefined) {
        return dead("system-event", "unbound", new Unbound({ source: entry.sessionKey }).message)
      }
      if (entry.severity !== undefined && Option.isSome(deps.triage)) {
        const at = yield* Clock.currentTimeMillis
        yield* deps.triage.value.submit(systemEventItem({ ...entry, severity: entry.severity, via: "redis:inbound", at }))
        return accepted("system-event")
      }
      const full = yield* events.enqueue(entry.sessionKey, entry.text, { contextKey: entry.contextKey, trusted: false }).pipe(
        Effect.as(undefined),
        Effect.catchTag("SystemEventsFull", (e) => Effect.succeed(e.message))
      )
      if (full !== undefined) return { _tag: "Wait", why: full } as const
      if (entry.wake !== "false") yield* wake.request({ reason: entry.reason ?? "exec-event", sessionKey: entry.sessionKey })
      return accepted("system-event")
    }))

  // Straight to the Router, never through the agent; named targets are explicit on purpose.
  const notify = (entry: EntryOf<"notify">, id: string) =>
    once("notify", id, router.deliver(entry.target, { kind: "notify", text: entry.text, requestId: id }, { explicit: true }).pipe(
      Effect.as(accepted("notify")),
      Effect.catchTags({
        UnknownTarget: (e) => Effect.succeed(dead("notify", "unknown_target", e.message)),
        SourceMismatch: (e) => Effect.succeed(dead("notify", "refused", e.message)),
        DeliveryFailed: (e): Effect.Effect<Verdict> =>
          Effect.succeed(
            e.permanent
              ? dead("notify", "refused", e.message)
              : { _tag: "Leave", type: "notify", why: e.message }
          )
      })
    ))

  // Into the check's state machine (a `push` check of the checks file), then triaged like any result.
  const checkResult = (entry: EntryOf<"check-result">, id: string) =>
    Option.match(deps.checks, {
      onNone: () => Effect.succeed(dead("check-result", "no_checks", "no checks service runs in this daemon: the result is kept here")),
      onSome: (checks) =>
        once("check-result", id, checks.report(entry.name, { status: entry.status, detail: entry.detail, severity: entry.severity }).pipe(
          Effect.as(accepted("check-result")),
          Effect.catchTag("UnknownCheck", (e) => Effect.succeed(dead("check-result", "unknown_check", e.message)))
        ))
    })

  const dispatch = (entry: BusEntry, streamId: string): Effect.Effect<Verdict> => {
    const id = dedupeId(entry, streamId)
    stats.received[entry.type]++
    switch (entry.type) {
      case "message":
        return message(entry, id)
      case "system-event":
        return systemEvent(entry, id)
      case "notify":
        return notify(entry, id)
      case "check-result":
        return checkResult(entry, id)
      case "cron.heartbeat":
        // ADR-0103: background work never reaches the session. Acknowledged, counted, dropped.
        stats.heartbeatsDropped++
        return Effect.succeed({ _tag: "Ack", type: "cron.heartbeat", outcome: "dropped" })
    }
  }

  return (raw: RawEntry): Effect.Effect<Verdict> => {
    const decoded = decode(raw.fields ?? [])
    if (decoded._tag === "Bad") {
      // A metric label: one of ours or "unknown", whatever a publisher invents.
      const type = fieldsOf(raw.fields ?? [])["type"]
      const label = typeof type === "string" && (ENTRY_TYPES as ReadonlyArray<string>).includes(type) ? type : "unknown"
      return Effect.succeed(dead(label, decoded.code, decoded.reason))
    }
    const entry = decoded.entry
    const ids = parseTraceparent(entry.traceparent)
    return dispatch(entry, raw.id).pipe(
      // Something unexpected (a bug, the store failing): the entry stays pending and is tried again.
      Effect.catchDefect((defect) =>
        Effect.succeed<Verdict>({ _tag: "Leave", type: entry.type, why: defect instanceof Error ? defect.message : String(defect) })),
      Effect.withSpan("redis.entry", {
        kind: "consumer",
        attributes: { "switchboard.stream_id": raw.id, "switchboard.entry_type": entry.type, "switchboard.deliveries": raw.deliveries },
        ...(ids !== undefined ? { parent: Tracer.externalSpan(ids) } : {})
      })
    )
  }
}
