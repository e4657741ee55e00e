// Agents and sessions (issue 14): the settings, and the agents file (SWITCHBOARD_AGENTS_FILE) — its
// Schema and the checks a Schema cannot make (unique names, one owner per binding, exec within the
// daemon's allowlist). Pure: the caller reads the file and the key variables (Agents.ts).
import { Config, Option, type Redacted, Schema } from "effect"
import { AGENT_NAME, type AgentRouting, BINDING, DEFAULT_AGENT, duplicateBinding, SCOPES } from "../domain/agents.ts"
import type { GatewaySettings } from "./GatewayConfig.ts"
import { optionalString, positiveInt } from "./values.ts"

export const AgentsConfig = Config.all({
  /** JSON `{ "agents": [...] }`; none: one agent `main`, bound to everything, one shared conversation. */
  file: optionalString("SWITCHBOARD_AGENTS_FILE"),
  /** Turns running at once across sessions (each session stays serial). */
  maxConcurrentTurns: positiveInt("SWITCHBOARD_MAX_CONCURRENT_TURNS", 4),
  /** Sessions kept open (memory loaded); beyond it the least recently used idle one is closed. */
  maxSessions: positiveInt("SWITCHBOARD_MAX_SESSIONS", 1000)
})

export const TOOLS = ["notify", "ask", "exec"] as const
export type ToolName = (typeof TOOLS)[number]

/** An agent as the daemon runs it: its routing, its model settings (the environment's, overridden), tools and exec list. */
export interface AgentSpec extends AgentRouting {
  readonly model: GatewaySettings["model"]
  readonly tools: ReadonlyArray<ToolName>
  readonly exec: ReadonlyArray<string>
}

const NonEmpty = Schema.String.check(Schema.isNonEmpty({ expected: "a non-empty string" }))
const HttpUrl = Schema.String.check(Schema.isPattern(/^https?:\/\/\S+$/, { expected: "an http(s) URL" }))
const VarName = Schema.String.check(Schema.isPattern(/^[A-Z_][A-Z0-9_]*$/, { expected: "an environment variable name such as WORK_OPENAI_KEY" }))

const AgentEntry = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(AGENT_NAME, { expected: "a name of 1-32 lower-case letters, digits or - (starting with a letter)" })),
  model: Schema.optional(Schema.Struct({
    provider: Schema.optional(Schema.Literals(["echo", "openai"])),
    model: Schema.optional(NonEmpty),
    baseUrl: Schema.optional(HttpUrl),
    /** The variable that holds the key (read as a secret), never the key itself. */
    apiKeyVar: Schema.optional(VarName),
    fallback: Schema.optional(Schema.Struct({
      model: NonEmpty,
      baseUrl: Schema.optional(HttpUrl),
      apiKeyVar: Schema.optional(VarName)
    }))
  })),
  systemPromptFile: Schema.optional(NonEmpty),
  tools: Schema.optional(Schema.Array(Schema.Literals(TOOLS))),
  exec: Schema.optional(Schema.Array(NonEmpty)),
  scope: Schema.optional(Schema.Literals(SCOPES)),
  bindings: Schema.Array(Schema.String.check(Schema.isPattern(BINDING, {
    expected: "a source pattern: *, <channel>:* or <channel>:<peer>"
  }))).check(Schema.isMinLength(1, { expected: "at least one binding" }))
})
export type AgentEntry = typeof AgentEntry.Type

export const AgentsFileSchema = Schema.Struct({
  agents: Schema.Array(AgentEntry).check(Schema.isMinLength(1, { expected: "at least one agent" }))
})

/** The agent without a file: today's single agent on the environment's settings. */
export const defaultAgent = (settings: GatewaySettings): AgentSpec => ({
  name: DEFAULT_AGENT,
  scope: "shared",
  bindings: ["*"],
  model: settings.model,
  tools: TOOLS,
  exec: settings.exec.allow
})

/** The key variables an agents file names (to be read before `agentsOf`). */
export const keyVariables = (entries: ReadonlyArray<AgentEntry>): ReadonlyArray<string> =>
  entries.flatMap((a) => [a.model?.apiKeyVar, a.model?.fallback?.apiKeyVar].filter((v): v is string => v !== undefined))

/** `Expected x at ["agents"][1]["scope"]` → `agents[1].scope: Expected x`: the field first, as in the other lines. */
const fieldFirst = (message: string): string => {
  const m = /^(.*) at ((?:\[(?:"[^"]*"|\d+)\])+)$/.exec(message)
  if (m === null) return message
  const path = [...m[2]!.matchAll(/\[(?:"([^"]*)"|(\d+))\]/g)]
    .map(([, key, index]) => key !== undefined ? `.${key}` : `[${index}]`)
    .join("")
    .replace(/^\./, "")
  return `${path}: ${m[1]}`
}

/** The file's text → its entries, or one line saying what is wrong (with the field's path). */
export const decodeAgentsFile = (text: string): ReadonlyArray<AgentEntry> | string => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return `expected an object { "agents": [...] }`
  const decoded = Schema.decodeUnknownResult(AgentsFileSchema)(json, { onExcessProperty: "error" })
  if (decoded._tag === "Failure") return fieldFirst(decoded.failure.message.replace(/\s+/g, " ").trim())
  return decoded.success.agents
}

/**
 * Entries → agents, on top of the environment's settings. `secret` answers a key variable (none:
 * not set). Returns one line naming the field when the entries do not make sense together.
 */
export const agentsOf = (
  entries: ReadonlyArray<AgentEntry>,
  settings: GatewaySettings,
  secret: (name: string) => Option.Option<Redacted.Redacted<string>>
): ReadonlyArray<AgentSpec> | string => {
  const names = new Set<string>()
  const agents: Array<AgentSpec> = []
  for (const [i, entry] of entries.entries()) {
    const at = `agents[${i}]`
    if (names.has(entry.name)) return `${at}.name: "${entry.name}" is declared twice`
    names.add(entry.name)
    const outside = (entry.exec ?? []).find((p) => !settings.exec.allow.includes(p))
    if (outside !== undefined) {
      return `${at}.exec: "${outside}" is not in SWITCHBOARD_EXEC_ALLOW (${settings.exec.allow.join(", ") || "empty"}); an agent's list narrows the daemon's`
    }
    const key = (name: string | undefined, field: string) => {
      if (name === undefined) return undefined
      const value = secret(name)
      return Option.isNone(value) ? `${at}.${field}: ${name} is not set` : value
    }
    const m = entry.model
    const apiKey = key(m?.apiKeyVar, "model.apiKeyVar")
    if (typeof apiKey === "string") return apiKey
    const fallbackKey = key(m?.fallback?.apiKeyVar, "model.fallback.apiKeyVar")
    if (typeof fallbackKey === "string") return fallbackKey
    const base = settings.model
    agents.push({
      name: entry.name,
      scope: entry.scope ?? "shared",
      bindings: entry.bindings,
      tools: entry.tools ?? TOOLS,
      exec: entry.exec ?? settings.exec.allow,
      model: {
        ...base,
        provider: m?.provider ?? base.provider,
        name: m?.model ?? base.name,
        baseUrl: m?.baseUrl?.replace(/\/+$/, "") ?? base.baseUrl,
        // A model of its own on another server does not take the environment's key along.
        apiKey: apiKey ?? (m?.baseUrl !== undefined ? Option.none() : base.apiKey),
        systemPromptFile: entry.systemPromptFile !== undefined ? Option.some(entry.systemPromptFile) : base.systemPromptFile,
        fallback: m?.fallback === undefined ? base.fallback : {
          ...base.fallback,
          name: Option.some(m.fallback.model),
          baseUrl: Option.fromNullishOr(m.fallback.baseUrl?.replace(/\/+$/, "")),
          apiKey: fallbackKey ?? Option.none()
        }
      }
    })
  }
  const dup = duplicateBinding(agents)
  if (dup !== undefined) return `bindings: "${dup.binding}" is bound to both ${dup.agents[0]} and ${dup.agents[1]}`
  return agents
}
