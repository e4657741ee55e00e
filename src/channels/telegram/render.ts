// The agent's Markdown as Telegram HTML. Telegram accepts only a few tags and rejects a whole
// message for one unbalanced or unknown tag, so this renderer escapes everything it does not
// recognise and only ever emits tags in matched pairs: a delimiter without its partner stays text.
// Pure.
import { alignTable, codeSpanEnd, isWordChar, markdownBlocks, tickRun } from "../markdown.ts"

export const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const escapeAttr = (s: string): string => escapeHtml(s).replace(/"/g, "&quot;")

const SAFE_URL = /^(https?:\/\/|tg:\/\/|mailto:)\S+$/i
/** Longer URLs stay text: a tag is never split, and one over the message limit could not be sent. */
const MAX_HREF = 2048

// ---------- inline ----------

interface Pair {
  readonly open: string
  readonly close: string
  readonly tag: string
  /** `_` and `*` only count at word edges, so snake_case and 2*3*4 stay text. */
  readonly wordEdge: boolean
}

const PAIRS: ReadonlyArray<Pair> = [
  { open: "**", close: "**", tag: "b", wordEdge: false },
  { open: "__", close: "__", tag: "b", wordEdge: true },
  { open: "~~", close: "~~", tag: "s", wordEdge: false },
  { open: "||", close: "||", tag: "tg-spoiler", wordEdge: false },
  { open: "*", close: "*", tag: "i", wordEdge: true },
  { open: "_", close: "_", tag: "i", wordEdge: true }
]

/** The closing delimiter of `pair` after `from`, skipping code spans; -1 when there is none. */
const findClose = (s: string, from: number, pair: Pair): number => {
  let i = from
  while (i < s.length) {
    if (s[i] === "`") {
      const ticks = tickRun(s, i)
      const end = codeSpanEnd(s, i + ticks, ticks)
      if (end >= 0) {
        i = end + ticks
        continue
      }
      i += ticks
      continue
    }
    if (s.startsWith(pair.close, i) && i > from && !/\s/.test(s[i - 1]!)) {
      const after = s[i + pair.close.length]
      const doubled = pair.close.length === 1 && s[i + 1] === pair.close // `*` must not end on `**`
      if (!doubled && (!pair.wordEdge || !isWordChar(after))) return i
    }
    i++
  }
  return -1
}

/** One line of Markdown inline syntax as Telegram HTML. */
export const renderInline = (s: string): string => {
  let out = ""
  let text = ""
  const flush = () => {
    out += escapeHtml(text)
    text = ""
  }
  let i = 0
  outer: while (i < s.length) {
    const c = s[i]!
    if (c === "\\" && i + 1 < s.length && /[\\`*_~|[\]()#>!-]/.test(s[i + 1]!)) {
      text += s[i + 1]
      i += 2
      continue
    }
    if (c === "`") {
      const ticks = tickRun(s, i)
      const end = codeSpanEnd(s, i + ticks, ticks)
      if (end >= 0) {
        flush()
        out += `<code>${escapeHtml(s.slice(i + ticks, end).replace(/^ (.+) $/, "$1"))}</code>`
        i = end + ticks
        continue
      }
      text += "`".repeat(ticks)
      i += ticks
      continue
    }
    if (c === "[") {
      const link = /^\[([^\]\n]+)\]\(([^()\s]+)\)/.exec(s.slice(i))
      if (link && link[2]!.length <= MAX_HREF && SAFE_URL.test(link[2]!)) {
        flush()
        out += `<a href="${escapeAttr(link[2]!)}">${renderInline(link[1]!)}</a>`
        i += link[0].length
        continue
      }
    }
    for (const pair of PAIRS) {
      if (!s.startsWith(pair.open, i)) continue
      const next = s[i + pair.open.length]
      if (next === undefined || /\s/.test(next)) continue
      if (pair.wordEdge && isWordChar(s[i - 1])) continue
      const close = findClose(s, i + pair.open.length, pair)
      if (close < 0) continue
      flush()
      out += `<${pair.tag}>${renderInline(s.slice(i + pair.open.length, close))}</${pair.tag}>`
      i = close + pair.close.length
      continue outer
    }
    text += c
    i++
  }
  flush()
  return out
}

// ---------- blocks ----------

/** Tables have no Telegram equivalent: aligned columns in a monospace block read well on a phone. */
const renderTable = (rows: ReadonlyArray<string>): string => `<pre>${escapeHtml(alignTable(rows).join("\n"))}</pre>`

const renderCode = (language: string, body: ReadonlyArray<string>): string => {
  const code = escapeHtml(body.join("\n"))
  return language === "" ? `<pre>${code}</pre>` : `<pre><code class="language-${language}">${code}</code></pre>`
}

/** Markdown as Telegram HTML: only b, i, s, code, pre, a, blockquote, tg-spoiler, always balanced. */
export const renderMarkdown = (markdown: string): string =>
  markdownBlocks(markdown).map((block) => {
    switch (block.kind) {
      case "code":
        return renderCode(block.language, block.body)
      case "table":
        return renderTable(block.rows)
      case "quote":
        return `<blockquote>${block.lines.map((l) => renderInline(l)).join("\n")}</blockquote>`
      case "heading":
        return `<b>${renderInline(block.text)}</b>`
      case "rule":
        return "──────────"
      case "bullet":
        return `${block.indent}• ${renderInline(block.text)}`
      case "line":
        return renderInline(block.text)
    }
  }).join("\n").trim()
