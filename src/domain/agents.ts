// Which agent serves a source, and which conversation (session) a request belongs to. Pure.
// A session is named by the key `<agent>/<conversation>`: `main/shared` (one conversation for all
// of an agent's chats) or `work/telegram:111` (one per chat). The key is the unit of seriality —
// and the id a cluster Entity would carry.
import { channelOf } from "./source.ts"

export const SCOPES = ["shared", "per-chat"] as const
export type SessionScope = (typeof SCOPES)[number]

/** The agent there is without an agents file: bound to everything, one shared conversation. */
export const DEFAULT_AGENT = "main"
export const SHARED_CONVERSATION = "shared"

/** Agent names: also a path segment and a metric label, so a short safe alphabet. */
export const AGENT_NAME = /^[a-z][a-z0-9-]{0,31}$/

/** `*` (every source), `<channel>:*` (a whole channel), `<channel>:<peer>` (one chat). */
export const BINDING = /^(\*|[a-z][a-z0-9-]*:\S+)$/

export interface AgentRouting {
  readonly name: string
  readonly scope: SessionScope
  readonly bindings: ReadonlyArray<string>
}

export interface SessionRef {
  /** `<agent>/<conversation>` */
  readonly key: string
  readonly agent: string
  readonly scope: SessionScope
  /** `shared`, or the source for `per-chat`. */
  readonly conversation: string
}

/** Higher is more specific: one chat beats a channel beats everything. */
export const specificity = (binding: string): number => binding === "*" ? 0 : binding.endsWith(":*") ? 1 : 2

export const bindingMatches = (binding: string, source: string): boolean =>
  binding === "*" ||
  (binding.endsWith(":*") ? channelOf(source) === binding.slice(0, -2) : binding === source)

export const sessionRef = (agent: AgentRouting, source: string): SessionRef => {
  const conversation = agent.scope === "shared" ? SHARED_CONVERSATION : source
  return { key: `${agent.name}/${conversation}`, agent: agent.name, scope: agent.scope, conversation }
}

/** The agent whose most specific binding matches `source` (the first declared on a tie); none: unbound. */
export const agentFor = <A extends AgentRouting>(agents: ReadonlyArray<A>, source: string): A | undefined => {
  let best: { agent: A; rank: number } | undefined
  for (const agent of agents) {
    for (const binding of agent.bindings) {
      if (!bindingMatches(binding, source)) continue
      const rank = specificity(binding)
      if (best === undefined || rank > best.rank) best = { agent, rank }
    }
  }
  return best?.agent
}

export const resolveSession = (agents: ReadonlyArray<AgentRouting>, source: string): SessionRef | undefined => {
  const agent = agentFor(agents, source)
  return agent === undefined ? undefined : sessionRef(agent, source)
}

/** A binding declared by two agents makes "who answers" ambiguous: the file is refused. */
export const duplicateBinding = (agents: ReadonlyArray<AgentRouting>): { binding: string; agents: [string, string] } | undefined => {
  const owner = new Map<string, string>()
  for (const agent of agents) {
    for (const binding of agent.bindings) {
      const other = owner.get(binding)
      if (other !== undefined && other !== agent.name) return { binding, agents: [other, agent.name] }
      owner.set(binding, agent.name)
    }
  }
  return undefined
}
