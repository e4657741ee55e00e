// Splitting rendered mrkdwn into Slack messages of at most `limit` characters. Cuts are made at a
// paragraph break, else a line break, outside code blocks; a code block that fits in one message is
// moved whole to the next one rather than cut. Only a code block longer than a message is split:
// it is closed at the end of one message and reopened at the start of the next, so every message
// shows well-formed code. A line longer than a message is broken at a space. Pure.
import { FENCE_LINE } from "./render.ts"

/** Slack's limit for a section's text, and a safe length for a message's text (it truncates at 40,000). */
export const SLACK_LIMIT = 3000

interface Line {
  readonly text: string
  /** Inside a code block before this line. */
  readonly inCode: boolean
}

const isFence = (line: Line) => line.text === FENCE_LINE
const inCodeAfter = (line: Line) => (isFence(line) ? !line.inCode : line.inCode)

/** Where to break a line of `text` to keep at most `max` characters: a space, else never inside an escape or a surrogate pair. */
const breakAt = (text: string, max: number): number => {
  const space = text.lastIndexOf(" ", max)
  if (space > max / 2) return space
  let at = max
  const amp = text.lastIndexOf("&", at)
  if (amp >= 0 && amp > at - 5 && /^&(amp|lt|gt);/.test(text.slice(amp, amp + 5)) && amp + text.slice(amp).indexOf(";") >= at) at = amp
  const c = text.charCodeAt(at - 1)
  if (c >= 0xd800 && c <= 0xdbff) at--
  return Math.max(1, at)
}

/** Lines with their code state; lines too long for a message broken up. */
const toLines = (text: string, maxLine: number): Array<Line> => {
  const out: Array<Line> = []
  let inCode = false
  for (const raw of text.split("\n")) {
    let rest = raw
    while (rest.length > maxLine) {
      const at = breakAt(rest, maxLine)
      out.push({ text: rest.slice(0, at), inCode })
      rest = inCode ? rest.slice(at) : rest.slice(at).replace(/^ /, "")
    }
    const line = { text: rest, inCode }
    out.push(line)
    inCode = inCodeAfter(line)
  }
  return out
}

const lengthOf = (lines: ReadonlyArray<Line>) => {
  if (lines.length === 0) return 0
  const text = lines.reduce((n, l) => n + l.text.length, 0) + lines.length - 1
  return inCodeAfter(lines[lines.length - 1]!) ? text + 1 + FENCE_LINE.length : text
}

const hasContent = (lines: ReadonlyArray<Line>) => lines.some((l) => !isFence(l) && l.text.trim() !== "")

/** Length of the code block that opens at `lines[start]` (through its closing fence). */
const blockLength = (lines: ReadonlyArray<Line>, start: number): number => {
  let n = 0
  for (let j = start; j < lines.length; j++) {
    n += lines[j]!.text.length + 1
    if (j > start && isFence(lines[j]!)) break
  }
  return n
}

/** Messages of at most `limit` characters whose text, in order, is the input's. */
export const chunkMrkdwn = (text: string, limit: number = SLACK_LIMIT): Array<string> => {
  const margin = 2 * (FENCE_LINE.length + 1)
  const lines = toLines(text, Math.max(1, limit - margin))
  const chunks: Array<Array<Line>> = []
  let current: Array<Line> = []
  let next = 0

  /** Index of a cut in `current`: lines before it form the message. */
  const chooseCut = (): number => {
    const half = limit / 2
    let line = -1
    let paragraph = -1
    for (let k = current.length; k > 0; k--) {
      // Outside code only, and not so early that the message would be mostly empty.
      if (inCodeAfter(current[k - 1]!) || lengthOf(current.slice(0, k)) < half) continue
      if (line < 0) line = k
      if (paragraph < 0 && current[k - 1]!.text === "") paragraph = k
    }
    if (paragraph > 0) return paragraph
    if (line > 0) return line
    // The current code block, moved whole to the next message if it fits there.
    const open = current.findLastIndex((l) => isFence(l) && !l.inCode)
    const last = current[current.length - 1]!
    if (open > 0 && inCodeAfter(last) && blockLength(lines, next - (current.length - open)) <= limit - margin) return open
    return isFence(last) && !last.inCode ? current.length - 1 : current.length
  }

  while (next < lines.length) {
    const line = lines[next]!
    if (current.length === 0 || lengthOf([...current, line]) <= limit) {
      if (current.length > 0 || line.text.trim() !== "" || line.inCode) current.push(line)
      next++
      continue
    }
    const cut = Math.max(1, chooseCut())
    const message = current.slice(0, cut)
    const rest = current.slice(cut)
    const openAtCut = inCodeAfter(message[message.length - 1]!)
    chunks.push(openAtCut ? [...message, { text: FENCE_LINE, inCode: true }] : message)
    current = openAtCut ? [{ text: FENCE_LINE, inCode: false }, ...rest] : rest
    while (current.length > 0 && !current[0]!.inCode && current[0]!.text.trim() === "") current.shift()
  }
  if (current.length > 0) chunks.push(current)
  return chunks.filter(hasContent).map((c) => c.map((l) => l.text).join("\n").replace(/\s+$/, ""))
}
