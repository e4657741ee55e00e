// The agent composed into the core graph for tests, the way the daemon composes it.
import { Layer } from "effect"
import { ChatModel } from "../../src/agent/model/ChatModel.ts"
import { core, Foundation } from "../../src/layers/Core.ts"
import { AgentSession } from "../../src/agent/AgentSession.ts"
import { agentServices as agentParts } from "../../src/agent/composition.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { type Patch, type Recorded, recordingHeartbeat } from "./agentHarness.ts"
import { Store } from "../../src/store/Store.ts"

/** The agent in the core graph: Questions and ExecJobs share the core's Router (layers memoize). */
export const agentCore = (patch: Patch, recorded: Recorded, chatModel = ChatModel.layerNodeHttp) => {
  const agentServices = agentParts.pipe(
    Layer.provide(Foundation),
    Layer.provide(recordingHeartbeat(recorded))
  )
  return core(AgentSession.layer).pipe(
    Layer.provideMerge(agentServices),
    Layer.provideMerge(chatModel),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(GatewayConfig.test(patch))
  )
}
