// The gateway's data model: what comes in, what goes out. Pure schemas and types only.
import { Schema } from "effect"

/** Highest first. The order is the policy: control beats people beats relays beats automation. */
export const PRIORITIES = ["command", "human", "relay", "event"] as const
export const Priority = Schema.Literals(PRIORITIES)
export type Priority = typeof Priority.Type

/** `<channel>:<peer>`: names where a request came from, where its reply goes, and its system-event queue. */
export const SOURCE_PATTERN = /^[a-z][a-z0-9-]*:\S+$/
export const Source = Schema.String.check(
  Schema.isPattern(SOURCE_PATTERN, { expected: "a source of the form <channel>:<peer>, e.g. http:alice" })
)
export type Source = string

/** A request after validation by its channel adapter. `id` is the channel's own id and the dedupe key. */
export const Inbound = Schema.Struct({
  id: Schema.String.check(Schema.isNonEmpty()),
  source: Source,
  text: Schema.String,
  priority: Priority,
  receivedAt: Schema.Number,
  sender: Schema.optional(Schema.String),
  /** W3C traceparent of the inbound span, so the turn joins the request's trace. */
  traceparent: Schema.optional(Schema.String),
  /** Relays carry the system events they show the agent, so they can be consumed after the turn. */
  relay: Schema.optional(Schema.Struct({ sessionKey: Source, eventIds: Schema.Array(Schema.String) }))
})
export type Inbound = typeof Inbound.Type

export const OutboundKind = Schema.Literals(["reply", "notify", "relay", "ask", "error"])
export type OutboundKind = typeof OutboundKind.Type

/** A message handed to the Router. `question` is set for `ask`, so channels can render choices. */
export interface Outbound {
  readonly kind: OutboundKind
  readonly text: string
  readonly requestId?: string | undefined
  readonly question?: { readonly id: string; readonly options: ReadonlyArray<string> } | undefined
  /** Worthless after this time (ms): a question nobody can answer any more. Not sent from the outbox after it. */
  readonly expiresAt?: number | undefined
  /** Cluster mode: `<request id>/<step>`, the same when the turn runs again; sent at most once per key. */
  readonly deliveryKey?: string | undefined
}

/** The agent's reply to a turn; the silent token means "nothing to say". */
export const SILENT_TOKEN = "NO_REPLY"
export const isSilent = (text: string): boolean => text.trim() === SILENT_TOKEN
