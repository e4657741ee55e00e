// The agent's parts as the daemon composes them (SWITCHBOARD_MODEL_PROVIDER=openai).
import { Layer } from "effect"
import { AgentSession } from "./AgentSession.ts"
import { ExecApproval } from "./exec/ExecApproval.ts"
import { ExecJobs } from "./exec/ExecJobs.ts"
import { Questions } from "../core/Questions.ts"
import { ChatModel } from "./model/ChatModel.ts"

/** The Session on the configured model (keep-alive node:http client). Pass to `core(...)`. */
export const openAiSession = AgentSession.layer.pipe(Layer.provide(ChatModel.layerNodeHttp))

/**
 * Questions (`ask`) and ExecJobs (`exec`, approved through Questions), provided to `core(...)` from outside so AgentTools finds
 * them. They need the core's Router: provide `Foundation` to them (layers memoize, so it is the
 * same Router the core uses), plus SystemEvents, HeartbeatWake and GatewayConfig.
 */
export const agentServices = Layer.mergeAll(
  Questions.layer,
  // Approval asks through the same Questions (layers memoize).
  ExecJobs.layer.pipe(Layer.provide(ExecApproval.layer), Layer.provide(Questions.layer))
)
