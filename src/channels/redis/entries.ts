// What a publisher may put on switchboard:inbound, as Schema: entries are untrusted input. An entry
// that does not decode gets a reason a person can act on (it goes to switchboard:dead with it).
// Unknown extra fields are ignored, so publishers can add their own. Pure.
import { Result, Schema } from "effect"
import { Severity } from "../../checks/checkFile.ts"
import { Source } from "../../domain/model.ts"
import { scopedRequestId } from "../../domain/source.ts"

export const ENTRY_TYPES = ["message", "system-event", "notify", "check-result", "cron.heartbeat"] as const
export type EntryType = typeof ENTRY_TYPES[number]

/** Why an entry was dead-lettered, as a metric label; the entry's `reason` field says more. */
export type DeadCode =
  | "invalid"
  | "unknown_type"
  | "unknown_target"
  | "unknown_check"
  | "too_many_deliveries"
  | "refused"
  | "no_checks"
  | "unbound"

const text = (max: number) =>
  Schema.String.check(
    Schema.isNonEmpty({ expected: "a non-empty text" }),
    Schema.isPattern(/\S/, { expected: "a text that is not blank" }),
    Schema.isMaxLength(max, { expected: `a text of at most ${max} characters` })
  )

/** The publisher's own id: the dedupe key (like HTTP's idempotency key). */
const Id = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._:@-]{1,128}$/, {
  expected: "an id of 1-128 letters, digits or . _ : @ -"
}))

/** A publisher speaks for `redis:*` sources only, never for another channel's chats. */
const BusSource = Schema.String.check(Schema.isPattern(/^redis:[A-Za-z0-9._:@-]{1,128}$/, {
  expected: "redis:<name> (letters, digits, . _ : @ -, at most 128)"
}))

const Target = Source.check(Schema.isMaxLength(256, { expected: "at most 256 characters" }))

const common = { id: Schema.optional(Id), traceparent: Schema.optional(Schema.String) }

export const entrySchemas = (maxText: number) => ({
  message: Schema.Struct({
    type: Schema.Literal("message"),
    source: BusSource,
    text: text(maxText),
    priority: Schema.optional(Schema.Literals(["human", "event"])),
    ...common
  }),
  "system-event": Schema.Struct({
    type: Schema.Literal("system-event"),
    sessionKey: Target,
    text: text(maxText),
    contextKey: Schema.optional(Schema.String.check(Schema.isPattern(/^\S{1,128}$/, {
      expected: "a context key of 1-128 non-space characters"
    }))),
    wake: Schema.optional(Schema.Literals(["true", "false"])),
    reason: Schema.optional(Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9-]{0,31}$/, {
      expected: "a reason such as exec-event, manual or hook"
    }))),
    severity: Schema.optional(Severity),
    ...common
  }),
  notify: Schema.Struct({ type: Schema.Literal("notify"), target: Target, text: text(maxText), ...common }),
  "check-result": Schema.Struct({
    type: Schema.Literal("check-result"),
    name: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._:-]{1,128}$/, {
      expected: "a check name of 1-128 letters, digits or . _ : -"
    })),
    status: Schema.Literals(["ok", "fail"]),
    // As POST /v1/checks/:name takes it.
    detail: Schema.optional(Schema.String.check(Schema.isMaxLength(2000, { expected: "a detail of at most 2000 characters" }))),
    severity: Schema.optional(Severity),
    ...common
  }),
  "cron.heartbeat": Schema.Struct({ type: Schema.Literal("cron.heartbeat"), ...common })
})

type Schemas = ReturnType<typeof entrySchemas>
export type BusEntry = { readonly [K in EntryType]: Schemas[K]["Type"] }[EntryType]
export type EntryOf<K extends EntryType> = Schemas[K]["Type"]

export type Decoded =
  | { readonly _tag: "Entry"; readonly entry: BusEntry }
  | { readonly _tag: "Bad"; readonly code: DeadCode; readonly reason: string }

/** Field/value pairs as Redis returns them → an object; a field given twice is kept as a list. */
export const fieldsOf = (flat: ReadonlyArray<string>): Record<string, string | Array<string>> => {
  const out: Record<string, string | Array<string>> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [k, v] = [flat[i]!, flat[i + 1]!]
    const seen = out[k]
    out[k] = seen === undefined ? v : Array.isArray(seen) ? [...seen, v] : [seen, v]
  }
  return out
}

/** `Missing key\n  at ["text"]` → `text: missing`, one clause per problem. */
export const formatIssues = (message: string): string => {
  const clauses: Array<string> = []
  for (const line of message.split("\n")) {
    const at = /^\s*at \[(.*)\]\s*$/.exec(line)
    if (at !== null && clauses.length > 0) {
      const path = at[1]!.split(",").map((p) => p.trim().replace(/^"|"$/g, "")).join(".")
      clauses[clauses.length - 1] = `${path}: ${clauses[clauses.length - 1]}`
    } else if (line.trim() !== "") {
      clauses.push(line.trim() === "Missing key" ? "missing" : line.trim().replace(/^Expected /, "expected "))
    }
  }
  return clauses.join("; ")
}

const isEntryType = (t: string): t is EntryType => (ENTRY_TYPES as ReadonlyArray<string>).includes(t)

export const makeDecoder = (maxText: number) => {
  const schemas = entrySchemas(maxText)
  const decoders = Object.fromEntries(
    ENTRY_TYPES.map((t) => [t, Schema.decodeUnknownResult(schemas[t] as Schema.Codec<BusEntry, unknown>, { errors: "all" })])
  ) as Record<EntryType, (u: unknown) => Result.Result<BusEntry, Schema.SchemaError>>

  return (flat: ReadonlyArray<string>): Decoded => {
    const fields = fieldsOf(flat)
    const repeated = Object.keys(fields).filter((k) => Array.isArray(fields[k]))
    if (repeated.length > 0) {
      return { _tag: "Bad", code: "invalid", reason: `field ${repeated.join(", ")} given more than once` }
    }
    const type = fields["type"]
    if (type === undefined) {
      return { _tag: "Bad", code: "invalid", reason: `no type field (expected one of ${ENTRY_TYPES.join(", ")})` }
    }
    if (typeof type !== "string" || !isEntryType(type)) {
      return { _tag: "Bad", code: "unknown_type", reason: `unknown type "${String(type).slice(0, 64)}" (expected one of ${ENTRY_TYPES.join(", ")})` }
    }
    const result = decoders[type](fields)
    return Result.isSuccess(result)
      ? { _tag: "Entry", entry: result.success }
      : { _tag: "Bad", code: "invalid", reason: `${type}: ${formatIssues(result.failure.message)}` }
  }
}

/**
 * The dedupe key of an entry: the publisher's `id`, else the stream entry id. A message's is
 * scoped by its source like an HTTP idempotency key (`redis:deploys~42`), and is its request id;
 * the other types are scoped by type, so one publisher's ids for different types never collide.
 */
export const dedupeId = (entry: BusEntry, streamId: string): string => {
  const key = entry.id ?? streamId
  return scopedRequestId(entry.type === "message" ? entry.source : `redis:${entry.type}`, key)
}
