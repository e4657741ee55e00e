// The agent's Markdown as Slack mrkdwn. Slack reads `*bold*`, `_italic_`, `~strike~`, `` `code` ``,
// fenced code blocks, `> quotes` and `<url|text>` links; it has no headings, tables or nesting of
// code in formatting. Everything else is text, and text must escape `&`, `<` and `>` (also inside
// code), which also keeps the agent from pinging `@channel` or anyone else. Pure.
import { alignTable, codeSpanEnd, isWordChar, markdownBlocks, tickRun } from "../markdown.ts"

export const escapeMrkdwn = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** Slack's fence: a line of exactly three backticks (no language: Slack would show it as text). */
export const FENCE_LINE = "```"

const SAFE_URL = /^(https?:\/\/|mailto:)[^\s<>|]+$/i

interface Pair {
  readonly open: string
  readonly mark: string
  /** `_` and `*` only count at word edges, so snake_case and 2*3*4 stay text. */
  readonly wordEdge: boolean
}

const PAIRS: ReadonlyArray<Pair> = [
  { open: "**", mark: "*", wordEdge: false },
  { open: "__", mark: "*", wordEdge: true },
  { open: "~~", mark: "~", wordEdge: false },
  { open: "*", mark: "_", wordEdge: true },
  { open: "_", mark: "_", wordEdge: true }
]

/** The closing delimiter of `pair` after `from`, skipping code spans; -1 when there is none. */
const findClose = (s: string, from: number, pair: Pair): number => {
  for (let i = from; i < s.length;) {
    if (s[i] === "`") {
      const ticks = tickRun(s, i)
      const end = codeSpanEnd(s, i + ticks, ticks)
      i = end >= 0 ? end + ticks : i + ticks
      continue
    }
    if (s.startsWith(pair.open, i) && i > from && !/\s/.test(s[i - 1]!)) {
      const doubled = pair.open.length === 1 && s[i + 1] === pair.open // `*` must not end on `**`
      if (!doubled && (!pair.wordEdge || !isWordChar(s[i + pair.open.length]))) return i
    }
    i++
  }
  return -1
}

/** One line of Markdown inline syntax as mrkdwn. */
export const renderInline = (s: string, inside: ReadonlyArray<string> = []): string => {
  let out = ""
  let i = 0
  outer: while (i < s.length) {
    const c = s[i]!
    if (c === "\\" && i + 1 < s.length && /[\\`*_~|[\]()#>!-]/.test(s[i + 1]!)) {
      out += escapeMrkdwn(s[i + 1]!)
      i += 2
      continue
    }
    if (c === "`") {
      const ticks = tickRun(s, i)
      const end = codeSpanEnd(s, i + ticks, ticks)
      const body = end >= 0 ? s.slice(i + ticks, end).replace(/^ (.+) $/, "$1") : ""
      // Slack's inline code cannot hold a backtick: such a span stays as the text it was.
      if (end >= 0 && body.length > 0 && !body.includes("`")) {
        out += `\`${escapeMrkdwn(body)}\``
        i = end + ticks
        continue
      }
      out += "`".repeat(ticks)
      i += ticks
      continue
    }
    if (c === "[") {
      const link = /^\[([^\]\n]+)\]\(([^()\s]+)\)/.exec(s.slice(i))
      if (link && SAFE_URL.test(link[2]!)) {
        // A link label cannot carry formatting or `|`/`>` in Slack; keep its plain words.
        const label = escapeMrkdwn(link[1]!.replace(/[|]/g, "/").replace(/[*_~`]/g, ""))
        out += `<${link[2]!.replace(/&/g, "&amp;")}|${label}>`
        i += link[0].length
        continue
      }
    }
    for (const pair of PAIRS) {
      if (!s.startsWith(pair.open, i) || inside.includes(pair.mark)) continue
      const next = s[i + pair.open.length]
      if (next === undefined || /\s/.test(next)) continue
      if (pair.wordEdge && isWordChar(s[i - 1])) continue
      const close = findClose(s, i + pair.open.length, pair)
      if (close < 0) continue
      const body = renderInline(s.slice(i + pair.open.length, close), [...inside, pair.mark])
      // Slack only sees a mark at a word edge: glue it to the neighbours with zero-width spaces.
      const before = isWordChar(out[out.length - 1]) ? "\u200b" : ""
      const after = isWordChar(s[close + pair.open.length]) ? "\u200b" : ""
      out += `${before}${pair.mark}${body}${pair.mark}${after}`
      i = close + pair.open.length
      continue outer
    }
    out += escapeMrkdwn(c)
    i++
  }
  return out
}

/** Tables have no mrkdwn equivalent: aligned columns in a code block read well. */
const renderTable = (rows: ReadonlyArray<string>): Array<string> => codeBlock(alignTable(rows))

/** A code block; a line of three backticks inside it would end it early, so it is broken up. */
const codeBlock = (body: ReadonlyArray<string>): Array<string> => [
  FENCE_LINE,
  ...body.map((line) => escapeMrkdwn(line).replace(/```/g, "`\u200b``")),
  FENCE_LINE
]

/** Markdown as mrkdwn. Code blocks come out as lines of exactly "```" around their body. */
export const renderMrkdwn = (markdown: string): string =>
  markdownBlocks(markdown).flatMap((block): ReadonlyArray<string> => {
    switch (block.kind) {
      case "code":
        return codeBlock(block.body)
      case "table":
        return renderTable(block.rows)
      case "quote": // a raw `>` at the start of a line is a quote
        return block.lines.map((l) => `> ${renderInline(l)}`.trimEnd())
      case "heading":
        return [`*${renderInline(block.text, ["*"])}*`]
      case "rule":
        return ["──────────"]
      case "bullet":
        return [`${block.indent}• ${renderInline(block.text)}`]
      case "line":
        return [renderInline(block.text)]
    }
  }).join("\n").trim()
