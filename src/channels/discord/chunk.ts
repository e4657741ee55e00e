// Splitting a Discord Markdown reply into messages of at most `limit` characters (Discord refuses
// longer ones). Cuts prefer the end of a paragraph, then of a line, then a space, and they stay
// outside code blocks: only a code block longer than a whole message is cut inside, at a line,
// and then the fence is closed at the end of one chunk and reopened (with its language) at the
// start of the next, so every chunk renders as code where the reply did. Pure.
import { closesFence, fenceMarker } from "./render.ts"

export const DISCORD_LIMIT = 2000

interface Line {
  readonly text: string
  /** The fence opening line in force after this line, if the line leaves a code block open. */
  readonly openAfter: Fence | undefined
}

interface Fence {
  /** The opening line (```ts), repeated at the start of a chunk that continues the block. */
  readonly opening: string
  /** The marker that closes it (``` or ~~~, as long as the opening one). */
  readonly closing: string
}

const annotate = (text: string): Array<Line> => {
  const lines: Array<Line> = []
  let open: Fence | undefined
  for (const text_ of text.split("\n")) {
    if (open === undefined) {
      const marker = fenceMarker(text_)
      if (marker !== undefined) open = { opening: text_.trim(), closing: marker }
    } else if (closesFence(open.closing, text_)) {
      open = undefined
    }
    lines.push({ text: text_, openAfter: open })
  }
  return lines
}

interface Candidate {
  /** Lines [start, end) go into this chunk. */
  readonly end: number
  readonly length: number
  /** 3: paragraph end or code block end, 2: line end, 1: a line inside a code block. */
  readonly score: number
}

const isBlank = (s: string | undefined) => s !== undefined && s.trim() === ""

/** Where to cut a line that does not fit in `room`: at the last space in the second half, else hard. */
const cutLine = (text: string, room: number): number => {
  const space = text.lastIndexOf(" ", room)
  if (space >= room / 2) return space
  // Never between the halves of a surrogate pair (an emoji would turn into two broken characters).
  const code = text.charCodeAt(room - 1)
  return code >= 0xd800 && code <= 0xdbff ? room - 1 : room
}

/**
 * Chunks of at most `limit` characters. Every chunk has balanced code fences; taken together, with
 * the fences added at the cuts removed, they are the input (whitespace at a cut dropped).
 */
export const chunkMarkdown = (markdown: string, limit: number = DISCORD_LIMIT): Array<string> => {
  const lines = annotate(markdown.replace(/\r\n?/g, "\n"))
  const chunks: Array<string> = []
  let start = 0
  let carry: Fence | undefined // the code block the previous chunk was cut inside
  const emit = (body: ReadonlyArray<string>, closeWith: Fence | undefined) => {
    const joined = [...body, ...(closeWith !== undefined ? [closeWith.closing] : [])].join("\n")
    // Outside code, whitespace at a cut is dropped; inside, the fence line comes first anyway.
    const text = (carry === undefined ? joined.replace(/^\s+/, "") : joined).trimEnd()
    if (text.replace(/`{3,}|~{3,}/g, "").trim() !== "") chunks.push(text)
  }
  while (start < lines.length) {
    // Blank lines at a cut outside code are dropped.
    if (carry === undefined && isBlank(lines[start]!.text)) {
      start++
      continue
    }
    const body: Array<string> = carry !== undefined ? [carry.opening] : []
    let length = carry !== undefined ? carry.opening.length : 0
    const candidates: Array<Candidate> = []
    let i = start
    while (i < lines.length) {
      const line = lines[i]!
      const added = (body.length > 0 ? 1 : 0) + line.text.length
      const closing = line.openAfter !== undefined ? 1 + line.openAfter.closing.length : 0
      if (length + added + closing > limit) break
      body.push(line.text)
      length += added
      i++
      const inCode = line.openAfter !== undefined
      const before = lines[i - 2]
      const closedCode = before?.openAfter !== undefined && !inCode
      const paragraph = !inCode && (isBlank(line.text) || isBlank(lines[i]?.text) || closedCode)
      candidates.push({ end: i, length, score: inCode ? 1 : paragraph ? 3 : 2 })
    }
    if (i === lines.length) {
      emit(body, lines[i - 1]!.openAfter)
      break
    }
    if (candidates.length === 0) {
      // One line longer than the room left: cut the line itself and go on with its rest.
      const line = lines[start]!
      const closing = line.openAfter !== undefined ? 1 + line.openAfter.closing.length : 0
      const room = limit - length - (body.length > 0 ? 1 : 0) - closing
      const at = cutLine(line.text, room)
      emit([...body, line.text.slice(0, at)], line.openAfter)
      lines[start] = { text: line.text.slice(at).replace(/^ /, ""), openAfter: line.openAfter }
      carry = line.openAfter
      continue
    }
    // Outside a code block if at all possible (a shorter chunk beats a cut block), and in the
    // second half of the chunk if possible (no tiny chunks); then the best kind of break, latest.
    const outside = candidates.filter((c) => c.score >= 2)
    const pool = outside.length > 0 ? outside : candidates
    const late = pool.filter((c) => c.length >= limit / 2)
    const best = (late.length > 0 ? late : pool).reduce((a, b) => (b.score >= a.score ? b : a))
    const cutAfter = lines[best.end - 1]!
    emit(body.slice(0, best.end - start + (carry !== undefined ? 1 : 0)), cutAfter.openAfter)
    carry = cutAfter.openAfter
    start = best.end
  }
  return chunks
}
