// The agents the daemon runs, read once at start: from SWITCHBOARD_AGENTS_FILE, or the one default
// agent `main` (bound to everything, one shared conversation: the daemon as it always was). A bad
// file stops the start with one line naming the file and the field.
import { existsSync, readFileSync } from "node:fs"
import { Config, ConfigProvider, Context, Effect, Layer, Option, type Redacted, Schema } from "effect"
import { resolveSession, type SessionRef } from "../domain/agents.ts"
import { type AgentSpec, agentsOf, decodeAgentsFile, defaultAgent, keyVariables } from "./agentsFile.ts"
import { GatewayConfig } from "./GatewayConfig.ts"

export class AgentsFileInvalid extends Schema.TaggedError<AgentsFileInvalid>()("AgentsFileInvalid", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `SWITCHBOARD_AGENTS_FILE: ${this.file}: ${this.reason}`
  }
}

export class Agents extends Context.Service<Agents, {
  readonly list: ReadonlyArray<AgentSpec>
  /** Whether the agents came from a file (otherwise: the default `main`). */
  readonly fromFile: boolean
  readonly byName: (name: string) => AgentSpec | undefined
  /** The session a request from `source` belongs to; undefined when no agent is bound to it. */
  readonly resolve: (source: string) => SessionRef | undefined
}>()("switchboard/Agents") {
  static readonly of_ = (list: ReadonlyArray<AgentSpec>, fromFile: boolean) => {
    const byName = new Map(list.map((a) => [a.name, a]))
    return Agents.of({
      list,
      fromFile,
      byName: (name) => byName.get(name),
      resolve: (source) => resolveSession(list, source)
    })
  }

  static readonly layer = Layer.effect(
    Agents,
    Effect.gen(function*() {
      const settings = yield* GatewayConfig
      if (Option.isNone(settings.agents.file)) return Agents.of_([defaultAgent(settings)], false)
      const file = settings.agents.file.value
      const invalid = (reason: string) => new AgentsFileInvalid({ file, reason })
      const text = yield* Effect.try({
        try: () => readFileSync(file, "utf8"),
        catch: (e) => invalid(`cannot read it (${(e as Error).message})`)
      })
      const entries = decodeAgentsFile(text)
      if (typeof entries === "string") return yield* invalid(entries)
      const provider = yield* ConfigProvider.ConfigProvider
      const secrets = new Map<string, Option.Option<Redacted.Redacted<string>>>()
      for (const name of keyVariables(entries)) {
        secrets.set(name, yield* Config.Redacted(name).parse(provider).pipe(Effect.option))
      }
      const agents = agentsOf(entries, settings, (name) => secrets.get(name) ?? Option.none())
      if (typeof agents === "string") return yield* invalid(agents)
      for (const [i, agent] of agents.entries()) {
        const prompt = Option.getOrUndefined(agent.model.systemPromptFile)
        if (prompt !== undefined && entries[i]!.systemPromptFile !== undefined && !existsSync(prompt)) {
          return yield* invalid(`agents[${i}].systemPromptFile: ${prompt} does not exist`)
        }
      }
      yield* Effect.logInfo("agents loaded").pipe(
        Effect.annotateLogs({ file, agents: agents.map((a) => `${a.name} (${a.scope}: ${a.bindings.join(" ")})`).join(", ") })
      )
      return Agents.of_(agents, true)
    })
  )
}
