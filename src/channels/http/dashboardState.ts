// What the dashboard and /v1/events show, read through the services' own interfaces (Status,
// Checks, ExecJobs, DeliveryLog) — never their storage. One section per card; each section is
// sent again as an event when it changes.
import { Effect, Option } from "effect"
import type { PendingQuestion } from "../../core/Questions.ts"
import type { StatusDoc } from "../../core/Status.ts"

/** The sections that are sent again whenever they change. */
export const SECTIONS = ["health", "active", "queue", "outbox", "channels", "checks", "digest", "jobs", "approvals", "heartbeat", "session", "sessions"] as const
export type Section = typeof SECTIONS[number]

export type Sections = Readonly<Record<Section, unknown>>

/** Characters of a job's output shown. */
const TAIL_CHARS = 2000

export interface StateReaders {
  readonly status: Effect.Effect<StatusDoc>
  readonly health: Effect.Effect<unknown>
  readonly checks: Option.Option<Effect.Effect<ReadonlyArray<unknown>>>
  readonly jobs: Option.Option<Effect.Effect<ReadonlyArray<{ readonly tail: string | null }>>>
  readonly questions: Option.Option<Effect.Effect<ReadonlyArray<PendingQuestion>>>
  readonly deliveriesByChannel: Effect.Effect<Readonly<Record<string, unknown>>>
}

const asRecord = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null ? v as Record<string, unknown> : {}

/** A channel's card: its life from Channels, its own section of /status (last poll, failures), its deliveries. */
const channelCards = (status: StatusDoc, deliveries: Readonly<Record<string, unknown>>) =>
  Object.entries(asRecord(status["channels"])).map(([name, life]) => ({
    name,
    ...asRecord(life),
    detail: status[name] ?? null,
    deliveries: deliveries[name] ?? { delivered: 0, queued: 0, failed: 0 }
  }))

/** Approval questions (exec) are the ones the dashboard can answer with Approve / Deny. */
export const isApproval = (q: PendingQuestion) => q.options.length === 2 && q.options[0] === "Approve" && q.options[1] === "Deny"

export const readSections = (r: StateReaders): Effect.Effect<Sections> =>
  Effect.gen(function*() {
    const status = yield* r.status
    const checksSection = asRecord(status["checks"])
    const checks = Option.isSome(r.checks) ? yield* r.checks.value : []
    const jobs = Option.isSome(r.jobs) ? yield* r.jobs.value : []
    const questions = Option.isSome(r.questions) ? yield* r.questions.value : []
    return {
      health: yield* r.health,
      active: status["active"] ?? null,
      queue: status["queue"] ?? null,
      outbox: status["outbox"] ?? null,
      channels: channelCards(status, yield* r.deliveriesByChannel),
      checks,
      digest: checksSection["digest"] ?? null,
      jobs: jobs.slice(-20).map((j) => ({ ...j, tail: j.tail === null ? null : j.tail.slice(-TAIL_CHARS) })),
      approvals: questions.filter(isApproval).map((q) => ({
        id: q.id,
        source: q.source,
        question: q.question,
        askedAt: new Date(q.askedAt).toISOString()
      })),
      heartbeat: status["heartbeat"] ?? null,
      session: status["session"] ?? null,
      // Agents and their sessions, where the daemon runs more than one conversation.
      sessions: status["sessions"] ?? null
    }
  })
