// Triage: what happens to something that is not a person's message (a check's change of state, a
// webhook delivery, a bus event). The rules of the checks file are tried in order, first match
// wins; after them come the defaults. Plus the storm limit. Pure.
import type { Action, Rule, Severity } from "./checkFile.ts"

export type ItemKind = "check" | "webhook" | "event"
export type ItemEvent = "failing" | "recovered" | "flapping" | "settled" | "delivery" | "event"

/** One thing to triage. `text` is ours (facts); `untrusted` came from outside (a webhook payload). */
export interface TriageItem {
  readonly kind: ItemKind
  readonly name: string
  /** `check:<name>`, `webhook:<name>`, `redis:<stream>`, … */
  readonly source: string
  readonly severity: Severity
  readonly event: ItemEvent
  readonly target: string
  readonly text: string
  readonly untrusted?: string | undefined
  readonly at: number
}

/**
 * A system event that carries a `severity` (from the HTTP API or the bus): triaged like a check's
 * change of state instead of waiting for the next heartbeat; its text came from outside.
 */
export const systemEventItem = (event: {
  readonly sessionKey: string
  readonly text: string
  readonly contextKey?: string | undefined
  readonly severity: Severity
  readonly via: string
  readonly at: number
}): TriageItem => ({
  kind: "event",
  name: event.contextKey ?? "system-event",
  source: event.via,
  severity: event.severity,
  event: "event",
  target: event.sessionKey,
  text: `event from ${event.via}${event.contextKey !== undefined ? ` (${event.contextKey})` : ""}`,
  untrusted: event.text,
  at: event.at
})

/** After the file's rules: critical and warning interrupt (through the agent), info waits for the digest. */
export const DEFAULT_RULES: ReadonlyArray<Rule> = [
  { severity: ["critical", "warning"], action: "immediate" },
  { action: "digest" }
]

/** `*` matches any run of characters; everything else is literal. */
export const globMatch = (pattern: string, value: string): boolean => {
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`)
  return re.test(value)
}

export const ruleMatches = (rule: Rule, item: TriageItem): boolean =>
  (rule.kind === undefined || rule.kind === item.kind) &&
  (rule.name === undefined || globMatch(rule.name, item.name)) &&
  (rule.source === undefined || globMatch(rule.source, item.source)) &&
  (rule.event === undefined || rule.event === item.event) &&
  (rule.severity === undefined ||
    (typeof rule.severity === "string" ? rule.severity === item.severity : rule.severity.includes(item.severity)))

/** The first matching rule's action (the file's rules, then the defaults) and which rule it was. */
export const decide = (rules: ReadonlyArray<Rule>, item: TriageItem): { readonly action: Action; readonly rule: string } => {
  const i = rules.findIndex((r) => ruleMatches(r, item))
  if (i >= 0) return { action: rules[i]!.action, rule: `triage[${i}]` }
  const d = DEFAULT_RULES.findIndex((r) => ruleMatches(r, item))
  return { action: DEFAULT_RULES[d]!.action, rule: "default" }
}

/**
 * The storm limit for one target: at most `limit` alerts in any `windowMs`. `sent` holds the
 * times of the alerts let through so far; returns whether this one may go, and the new list.
 */
export const stormAllows = (
  sent: ReadonlyArray<number>,
  now: number,
  limit: number,
  windowMs: number
): { readonly allowed: boolean; readonly sent: ReadonlyArray<number> } => {
  const recent = sent.filter((t) => t > now - windowMs)
  return recent.length < limit ? { allowed: true, sent: [...recent, now] } : { allowed: false, sent: recent }
}
