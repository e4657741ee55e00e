// The checks file (SWITCHBOARD_CHECKS_FILE): its Schema, its defaults, and the checks that need
// more than a Schema (unique names, a target for everything, secrets that exist). Pure: the
// caller reads the file and the environment.
import { Duration, Option, Schema } from "effect"
import { SOURCE_PATTERN } from "../domain/model.ts"

export const SEVERITIES = ["critical", "warning", "info"] as const
export type Severity = (typeof SEVERITIES)[number]
export const Severity = Schema.Literals(SEVERITIES)

export const ACTIONS = ["immediate", "notify", "digest", "suppress"] as const
export type Action = (typeof ACTIONS)[number]

const Name = Schema.String.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
  expected: "a name of 1-64 letters, digits or . _ - (starting with a letter or digit)"
}))
const DurationText = Schema.String.check(Schema.makeFilter((s: string) =>
  Option.isSome(Duration.fromInput(s as Duration.Input)) ? undefined : "a duration such as \"30 seconds\" or \"5 minutes\""
))
const Target = Schema.String.check(Schema.isPattern(SOURCE_PATTERN, { expected: "a chat such as telegram:123 or http:me" }))
const NonEmpty = Schema.String.check(Schema.isNonEmpty({ expected: "a non-empty string" }))
const Glob = Schema.String.check(Schema.isMaxLength(200))

const common = {
  name: Name,
  every: Schema.optional(DurationText),
  timeout: Schema.optional(DurationText),
  failAfter: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 }))),
  severity: Schema.optional(Severity),
  target: Schema.optional(Target),
  cooldown: Schema.optional(DurationText),
  /** More than `flips` changes of state within `window`: reported once as flapping. */
  flap: Schema.optional(Schema.Struct({
    flips: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))),
    window: Schema.optional(DurationText)
  }))
}

const HttpCheck = Schema.Struct({
  ...common,
  kind: Schema.Literal("http"),
  url: Schema.String.check(Schema.isPattern(/^https?:\/\/\S+$/, { expected: "an http(s) URL" })),
  status: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 100, maximum: 599 }))),
  contains: Schema.optional(NonEmpty)
})
const TcpCheck = Schema.Struct({
  ...common,
  kind: Schema.Literal("tcp"),
  host: NonEmpty,
  port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
})
const CommandCheck = Schema.Struct({
  ...common,
  kind: Schema.Literal("command"),
  argv: Schema.Array(Schema.String).check(Schema.isMinLength(1, { expected: "a program and its arguments" })),
  /** Variables the program inherits besides exec's base set (SWITCHBOARD_EXEC_ENV adds to it too). */
  env: Schema.optional(Schema.Array(NonEmpty))
})
const FileAgeCheck = Schema.Struct({
  ...common,
  kind: Schema.Literal("file-age"),
  path: NonEmpty,
  maxAge: DurationText
})
const RedisCheck = Schema.Struct({
  ...common,
  kind: Schema.Literal("redis"),
  /** Either a key that must exist … */
  key: Schema.optional(NonEmpty),
  /** … or a stream whose consumer group's lag must stay at or under maxLag. */
  stream: Schema.optional(NonEmpty),
  group: Schema.optional(NonEmpty),
  maxLag: Schema.optional(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)))
})
const PushCheck = Schema.Struct({
  ...common,
  kind: Schema.Literal("push"),
  /** Results are pushed (POST /v1/checks/:name); silence for 2 × this is a failure. */
  expectEvery: DurationText
})

const CheckEntry = Schema.Union([HttpCheck, TcpCheck, CommandCheck, FileAgeCheck, RedisCheck, PushCheck])

const HookEntry = Schema.Struct({
  name: Name,
  /** Name of the environment variable that holds the secret (never the secret itself). */
  secret: Schema.String.check(Schema.isPattern(/^[A-Z_][A-Z0-9_]*$/, { expected: "an environment variable name" })),
  signature: Schema.Literals(["github", "hmac-sha256", "token"]),
  /** hmac-sha256: the header with the hex digest; token: the header equal to the secret. */
  header: Schema.optional(NonEmpty),
  deliveryHeader: Schema.optional(NonEmpty),
  /** `{{a.b}}` placeholders filled from the JSON payload. */
  template: Schema.optional(Schema.String.check(Schema.isMaxLength(2000))),
  /** Or: JSON paths whose values become `path: value` lines. */
  fields: Schema.optional(Schema.Array(NonEmpty)),
  severity: Schema.optional(Severity),
  target: Schema.optional(Target)
})

const RuleEntry = Schema.Struct({
  kind: Schema.optional(Schema.Literals(["check", "webhook", "event"])),
  name: Schema.optional(Glob),
  source: Schema.optional(Glob),
  severity: Schema.optional(Schema.Union([Severity, Schema.Array(Severity)])),
  event: Schema.optional(Schema.Literals(["failing", "recovered", "flapping", "settled", "delivery", "event"])),
  action: Schema.Literals(ACTIONS)
})

export const ChecksFileSchema = Schema.Struct({
  checks: Schema.optional(Schema.Array(CheckEntry).check(Schema.isMaxLength(10_000))),
  hooks: Schema.optional(Schema.Array(HookEntry).check(Schema.isMaxLength(1000))),
  triage: Schema.optional(Schema.Array(RuleEntry).check(Schema.isMaxLength(1000)))
})
export type ChecksFile = typeof ChecksFileSchema.Type
type CheckEntry = typeof CheckEntry.Type

// ---------- normalised ----------

export interface CheckCommon {
  readonly name: string
  readonly everyMs: number
  readonly timeoutMs: number
  readonly failAfter: number
  readonly severity: Severity
  readonly target: string
  readonly cooldownMs: number
  readonly flapFlips: number
  readonly flapWindowMs: number
}

export type ProbeSpec =
  | { readonly kind: "http"; readonly url: string; readonly status: number; readonly contains: string | undefined }
  | { readonly kind: "tcp"; readonly host: string; readonly port: number }
  | { readonly kind: "command"; readonly argv: ReadonlyArray<string>; readonly env: ReadonlyArray<string> }
  | { readonly kind: "file-age"; readonly path: string; readonly maxAgeMs: number }
  | { readonly kind: "redis-key"; readonly key: string }
  | { readonly kind: "redis-lag"; readonly stream: string; readonly group: string; readonly maxLag: number }
  | { readonly kind: "push"; readonly expectEveryMs: number }

export type CheckSpec = CheckCommon & { readonly probe: ProbeSpec }

export interface HookSpec {
  readonly name: string
  readonly secretVar: string
  readonly signature: "github" | "hmac-sha256" | "token"
  readonly header: string
  readonly deliveryHeader: string
  readonly template: string | undefined
  readonly fields: ReadonlyArray<string>
  readonly severity: Severity
  readonly target: string
}

export type Rule = typeof RuleEntry.Type

export interface ChecksPlan {
  readonly checks: ReadonlyArray<CheckSpec>
  readonly hooks: ReadonlyArray<HookSpec>
  readonly rules: ReadonlyArray<Rule>
}

export const DEFAULTS = {
  every: "1 minute",
  timeout: "10 seconds",
  failAfter: 2,
  severity: "warning" as Severity,
  cooldown: "15 minutes",
  flapFlips: 4,
  flapWindow: "1 hour"
}
const MIN_EVERY_MS = 100

const ms = (s: string) => Duration.toMillis(Duration.fromInputUnsafe(s as Duration.Input))

export interface PlanContext {
  readonly alertTarget: string | undefined
  readonly redisConfigured: boolean
  readonly hasVariable: (name: string) => boolean
}

const probeOf = (c: CheckEntry): ProbeSpec | string => {
  switch (c.kind) {
    case "http":
      return { kind: "http", url: c.url, status: c.status ?? 200, contains: c.contains }
    case "tcp":
      return { kind: "tcp", host: c.host, port: c.port }
    case "command":
      return { kind: "command", argv: c.argv, env: c.env ?? [] }
    case "file-age":
      return { kind: "file-age", path: c.path, maxAgeMs: ms(c.maxAge) }
    case "push":
      return { kind: "push", expectEveryMs: Math.max(MIN_EVERY_MS, ms(c.expectEvery)) }
    case "redis":
      if (c.key !== undefined && c.stream === undefined) return { kind: "redis-key", key: c.key }
      if (c.stream !== undefined && c.key === undefined) {
        if (c.group === undefined) return "a stream check needs its consumer \"group\""
        return { kind: "redis-lag", stream: c.stream, group: c.group, maxLag: c.maxLag ?? 0 }
      }
      return "give either \"key\" or \"stream\" (with \"group\" and \"maxLag\")"
  }
}

/** The file as the service runs it, or the first problem, naming the entry. */
export const planOf = (file: ChecksFile, context: PlanContext): ChecksPlan | string => {
  const names = new Set<string>()
  const checks: Array<CheckSpec> = []
  for (const [i, c] of (file.checks ?? []).entries()) {
    const at = `checks[${i}] (${c.name})`
    if (names.has(c.name)) return `${at}: the name ${c.name} is used twice`
    names.add(c.name)
    const target = c.target ?? context.alertTarget
    if (target === undefined) return `${at}: no "target", and SWITCHBOARD_ALERT_TARGET is not set`
    const probe = probeOf(c)
    if (typeof probe === "string") return `${at}: ${probe}`
    if ((probe.kind === "redis-key" || probe.kind === "redis-lag") && !context.redisConfigured) {
      return `${at}: a redis check needs REDIS_URL`
    }
    const everyMs = ms(c.every ?? DEFAULTS.every)
    if (everyMs < MIN_EVERY_MS) return `${at}: "every" must be at least 100 millis`
    const timeoutMs = ms(c.timeout ?? DEFAULTS.timeout)
    if (timeoutMs <= 0) return `${at}: "timeout" must be more than 0`
    checks.push({
      name: c.name,
      everyMs,
      timeoutMs,
      // A pushed result was judged by the worker that sent it: one failure is a failure.
      failAfter: c.failAfter ?? (probe.kind === "push" ? 1 : DEFAULTS.failAfter),
      severity: c.severity ?? DEFAULTS.severity,
      target,
      cooldownMs: ms(c.cooldown ?? DEFAULTS.cooldown),
      flapFlips: c.flap?.flips ?? DEFAULTS.flapFlips,
      flapWindowMs: ms(c.flap?.window ?? DEFAULTS.flapWindow),
      probe
    })
  }
  const hooks: Array<HookSpec> = []
  const hookNames = new Set<string>()
  for (const [i, h] of (file.hooks ?? []).entries()) {
    const at = `hooks[${i}] (${h.name})`
    if (hookNames.has(h.name)) return `${at}: the name ${h.name} is used twice`
    hookNames.add(h.name)
    const target = h.target ?? context.alertTarget
    if (target === undefined) return `${at}: no "target", and SWITCHBOARD_ALERT_TARGET is not set`
    if (!context.hasVariable(h.secret)) return `${at}: the variable ${h.secret} (its secret) is not set`
    if (h.signature !== "github" && h.header === undefined) return `${at}: signature ${h.signature} needs "header"`
    hooks.push({
      name: h.name,
      secretVar: h.secret,
      signature: h.signature,
      header: (h.header ?? "x-hub-signature-256").toLowerCase(),
      deliveryHeader: (h.deliveryHeader ?? (h.signature === "github" ? "x-github-delivery" : "x-delivery-id")).toLowerCase(),
      template: h.template,
      fields: h.fields ?? [],
      severity: h.severity ?? DEFAULTS.severity,
      target
    })
  }
  return { checks, hooks, rules: file.triage ?? [] }
}

/** Parse and validate the file's text: the plan, or one line saying what is wrong and where. */
export const parseChecksFile = (text: string, context: PlanContext): ChecksPlan | string => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`
  }
  const decoded = Schema.decodeUnknownResult(ChecksFileSchema)(json, { onExcessProperty: "error" })
  if (decoded._tag === "Failure") return decoded.failure.message.replace(/\s+/g, " ").trim()
  return planOf(decoded.success, context)
}
