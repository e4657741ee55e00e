// Small models call tools that do not exist (llama3.1: brave_search, python). The model is told at
// once, as that call's result, and answers again; the turn's history never sees the exchange.
import type { Accumulated } from "./accumulate.ts"
import type { ChatMessage } from "./request.ts"

/** Times the model is told it called a tool that does not exist, in one step. */
export const UNKNOWN_TOOL_RETRIES = 2

/** The assistant's calls and, for each, the result that says why it did not run. */
export const unknownToolReply = (acc: Accumulated, known: ReadonlyArray<string>): Array<ChatMessage> => {
  const calls = acc.toolCalls.map((c, i) => ({ ...c, id: c.id === "" ? `call_${i}` : c.id }))
  return [
    {
      role: "assistant",
      content: acc.text === "" ? null : acc.text,
      tool_calls: calls.map((c) => ({
        id: c.id,
        type: "function" as const,
        function: { name: c.name, arguments: c.arguments.trim() === "" ? "{}" : c.arguments }
      }))
    },
    ...calls.map((c): ChatMessage => ({
      role: "tool",
      tool_call_id: c.id,
      content: known.includes(c.name)
        ? "error: not run, because another call in the same step named a tool that does not exist; call it again"
        : `error: there is no tool named "${c.name}"; the tools are: ${known.join(", ")}`
    }))
  ]
}
