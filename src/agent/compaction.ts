// Conversation size and compaction: estimate tokens, choose which older turns to summarise
// (always at a user-message boundary, so tool calls stay with their results), and render them
// as a transcript for the summarising request. Pure.
import type { Prompt } from "effect/ai"

/** A message's size in characters, as the estimate counts it. */
export const messageChars = (m: Prompt.Message): number => JSON.stringify(m.content).length + 8

/** ~4 characters per token: a cheap, provider-independent estimate. `chars` may be memoised. */
export const estimateTokens = (messages: ReadonlyArray<Prompt.Message>, chars: (m: Prompt.Message) => number = messageChars): number =>
  Math.ceil(messages.reduce((n, m) => n + chars(m), 0) / 4)

/**
 * Index where the kept part starts: the start of the `keepTurns`-th user message from the end.
 * Called only over the budget, so something must give: when that would keep everything (fewer or
 * as many turns as `keepTurns`), only the last turn is kept. 0 means nothing to compact (one turn).
 */
export const compactionSplit = (messages: ReadonlyArray<Prompt.Message>, keepTurns: number): number => {
  const userAt: Array<number> = [] // from the newest
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === "user") userAt.push(i)
  if (userAt.length === 0) return 0
  const kept = userAt[Math.min(keepTurns, userAt.length) - 1]!
  // Keeping from the first turn on keeps everything (a summary before it does not count).
  const keepsAll = kept <= userAt[userAt.length - 1]!
  if (!keepsAll) return kept
  return userAt.length >= 2 ? userAt[0]! : 0
}

const partText = (p: Prompt.Message["content"][number] | string): string => {
  if (typeof p === "string") return p
  switch (p.type) {
    case "text":
      return p.text
    case "tool-call":
      return `[called ${p.name} ${JSON.stringify(p.params)}]`
    case "tool-result":
      return `[${p.name} returned ${JSON.stringify(p.result)}]`
    default:
      return ""
  }
}

export const transcript = (messages: ReadonlyArray<Prompt.Message>): string =>
  messages
    .map((m) => {
      const content = typeof m.content === "string" ? m.content : m.content.map(partText).filter((s) => s !== "").join(" ")
      return `${m.role}: ${content}`
    })
    .join("\n")

export const SUMMARY_PREFIX = "Summary of the earlier conversation:"

export const SUMMARISE_INSTRUCTIONS = "Summarise the conversation below for your own later use: who asked for what on \
which channel, decisions, open questions, running jobs and facts worth keeping. Be concise; plain text; no preamble."
