// Keeping a replayed conversation acceptable to strict chat templates. A crash can cut a turn short
// on disk (its user line kept, its reply lost), and a turn can end inside a tool call; some models
// (Mistral, Gemma on llama.cpp) then refuse every later request: two user messages in a row, or a
// tool call without its result. The history is folded message by message through `pushRepaired`,
// both when a file is replayed and when a turn is appended, so what is in memory is always the same
// function of what is on disk (compaction records count messages of that folded list). Pure.
import { Prompt } from "effect/ai"

/** Said in place of a reply that never reached the disk. */
export const INTERRUPTED_REPLY = "(no reply was recorded: this turn was interrupted)"

export interface RepairCounts {
  /** Placeholder replies inserted so user and assistant alternate. */
  placeholders: number
  /** Tool calls whose results were lost, removed from their assistant message. */
  strippedCalls: number
  /** Tool results that answered no call, dropped. */
  orphanResults: number
}

export const noRepairs = (): RepairCounts => ({ placeholders: 0, strippedCalls: 0, orphanResults: 0 })

export const repairCount = (c: RepairCounts) => c.placeholders + c.strippedCalls + c.orphanResults

const placeholder = () =>
  Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text: INTERRUPTED_REPLY })] })

const lastSpoken = (messages: ReadonlyArray<Prompt.Message>): Prompt.Message | undefined => {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role !== "system") return messages[i]
  return undefined
}

/**
 * The newest assistant message with tool calls, when only tool messages follow it, and the ids of
 * its calls that no result has answered yet.
 */
const openCalls = (messages: ReadonlyArray<Prompt.Message>) => {
  const answered = new Set<string>()
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!
    if (m.role === "tool") {
      for (const p of m.content) if (p.type === "tool-result") answered.add(p.id)
      continue
    }
    if (m.role !== "assistant") return undefined
    for (const p of m.content) if (p.type === "tool-result") answered.add(p.id)
    const calls = m.content.flatMap((p) => (p.type === "tool-call" ? [p.id] : []))
    if (calls.length === 0) return undefined
    return { index: i, message: m, open: new Set(calls.filter((id) => !answered.has(id))) }
  }
  return undefined
}

/** Remove the calls of the last tool step that never got a result (the turn stopped inside them). */
const settleOpenCalls = (messages: Array<Prompt.Message>, counts: RepairCounts) => {
  const step = openCalls(messages)
  if (step === undefined || step.open.size === 0) return
  const kept = step.message.content.filter((p) => !(p.type === "tool-call" && step.open.has(p.id)))
  counts.strippedCalls += step.open.size
  messages[step.index] = Prompt.makeMessage("assistant", {
    content: kept.length > 0 ? kept : [Prompt.makePart("text", { text: INTERRUPTED_REPLY })]
  })
}

/** Append `m` to `messages`, repairing what a cut-short turn left behind. Mutates both arguments. */
export const pushRepaired = (messages: Array<Prompt.Message>, m: Prompt.Message, counts: RepairCounts): void => {
  if (m.role === "system") {
    messages.push(m)
    return
  }
  if (m.role === "tool") {
    const step = openCalls(messages)
    const content = m.content.filter((p) => p.type !== "tool-result" || step?.open.has(p.id) === true)
    const dropped = m.content.length - content.length
    counts.orphanResults += dropped
    if (content.length === 0) return
    messages.push(dropped === 0 ? m : Prompt.makeMessage("tool", { content }))
    return
  }
  settleOpenCalls(messages, counts)
  const before = lastSpoken(messages)?.role
  if (m.role === "user" && (before === "user" || before === "tool")) {
    counts.placeholders++
    messages.push(placeholder())
  }
  messages.push(m)
}

/**
 * The history as the model gets it: a turn cut short at the end (its reply or a tool result lost) is
 * closed, so the next user message does not follow a user message or an unanswered tool call.
 */
export const closeHistory = (messages: ReadonlyArray<Prompt.Message>): Array<Prompt.Message> => {
  const out = [...messages]
  const counts = noRepairs()
  settleOpenCalls(out, counts)
  const last = lastSpoken(out)?.role
  if (last === "user" || last === "tool") out.push(placeholder())
  return out
}
