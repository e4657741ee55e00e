// Where a session's conversation files live. The default session (`main/shared`, the daemon without
// an agents file) keeps `<state dir>/conversations/`, as it always did; every other session gets
// `<state dir>/sessions/<agent>/<conversation>/`, the conversation (a source such as
// `telegram:-100/7` or `http:../../etc`) turned into one safe path segment: nothing but letters,
// digits, `-`, `_` and `%XX` escapes, never `.` or `/`, and a hash instead of the tail of a long one.
import { createHash } from "node:crypto"
import { join } from "node:path"
import { DEFAULT_AGENT, SHARED_CONVERSATION, type SessionRef } from "../domain/agents.ts"

/** Longest segment kept verbatim; file systems allow 255 bytes, the files inside add ~40. */
const MAX_SEGMENT = 120

export const safeSegment = (text: string): string => {
  const escaped = encodeURIComponent(text).replace(/[^A-Za-z0-9_%-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`)
  if (escaped.length <= MAX_SEGMENT) return escaped
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16)
  return `${escaped.slice(0, MAX_SEGMENT - 17).replace(/%[0-9A-F]?$/, "")}-${hash}`
}

export const sessionDir = (stateDir: string, ref: SessionRef): string =>
  ref.agent === DEFAULT_AGENT && ref.conversation === SHARED_CONVERSATION
    ? join(stateDir, "conversations")
    : join(stateDir, "sessions", ref.agent, safeSegment(ref.conversation))
