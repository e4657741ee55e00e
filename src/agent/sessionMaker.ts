// The daemon's sessions: each opened with its agent's model (one ChatModel per agent, so fallback
// and probing are per endpoint, shared by that agent's conversations), its agent's system prompt and
// tools, and memory of its own (sessionDir.ts). An `echo` agent answers offline.
import { Context, Effect, Layer, Option } from "effect"
import { NodeHttpClient } from "@effect/platform-node"
import { Agents } from "../config/Agents.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import type { Channels } from "../core/Channels.ts"
import type { Router } from "../core/Router.ts"
import { echoSession } from "../core/Session.ts"
import { SessionMaker } from "../core/SessionMaker.ts"
import { makeWith } from "./AgentSession.ts"
import { Memory } from "./Memory.ts"
import { makeSharedMemory } from "./sharedMemory.ts"
import { SharedConversations } from "../core/SharedConversations.ts"
import { ChatModel } from "./model/ChatModel.ts"
import { sessionDir } from "./sessionDir.ts"
import { AgentToolkitLive } from "./toolkit.ts"
import { Persistence } from "../store/Persistence.ts"

const make = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const agents = yield* Agents
  const layerScope = yield* Effect.scope
  // Models are built at start, one per agent that talks to one: a bad setting shows at once.
  const models = new Map<string, ChatModel["Service"]>()
  for (const agent of agents.list) {
    if (agent.model.provider !== "openai") continue
    const built = yield* Layer.buildWithScope(
      ChatModel.layer.pipe(Layer.provide(Layer.succeed(GatewayConfig, { ...config, model: agent.model }))),
      layerScope
    )
    models.set(agent.name, Context.get(built, ChatModel))
  }
  const handlers = yield* Layer.buildWithScope(AgentToolkitLive, layerScope)
  const shared = yield* Effect.serviceOption(SharedConversations)
  const context = yield* Effect.context<Persistence | Channels | Router>()

  return SessionMaker.of({
    make: (ref) =>
      Effect.gen(function*() {
        const agent = agents.byName(ref.agent)
        const model = models.get(ref.agent)
        if (agent === undefined || model === undefined) return echoSession
        // In a cluster the session moves between daemons: its conversation is kept in Postgres.
        const memory = yield* (Option.isSome(shared)
          ? makeSharedMemory(shared.value, ref.key)
          : Memory.make(config.stateDir, { dir: sessionDir(config.stateDir, ref), sync: config.store.durability === "power" })).pipe(
          Effect.annotateLogs({ session: ref.key })
        )
        return yield* makeWith({ tools: agent.tools }).pipe(
          Effect.provideService(GatewayConfig, { ...config, model: agent.model }),
          Effect.provideService(ChatModel, model),
          Effect.provideService(Memory, memory),
          Effect.provide(handlers)
        )
      }).pipe(Effect.provide(context))
  })
})

/** Needs Agents, AgentTools, Router, Channels (the core graph) and GatewayConfig; a keep-alive node:http client. */
export const agentSessionMaker = Layer.effect(SessionMaker, make).pipe(
  Layer.provide(Layer.mergeAll(NodeHttpClient.layerNodeHttpOptions({ keepAlive: true }), Persistence.layer))
)
