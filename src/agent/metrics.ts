// Metric descriptors for the agent (values live in the runtime's registry, see domain/metrics.ts).
import { Metric } from "effect"

export const modelRequests = Metric.counter("switchboard_model_requests_total", {
  description: "Model requests by endpoint and outcome",
  incremental: true
})
export const modelSwitches = Metric.counter("switchboard_model_switches_total", {
  description: "Switches between the primary and the fallback model, by direction",
  incremental: true
})
export const toolCalls = Metric.counter("switchboard_tool_calls_total", {
  description: "Agent tool calls by tool and outcome",
  incremental: true
})
export const compactions = Metric.counter("switchboard_compactions_total", {
  description: "Conversation compactions by outcome",
  incremental: true
})
export const execJobs = Metric.counter("switchboard_exec_jobs_total", {
  description: "exec jobs by outcome",
  incremental: true
})
