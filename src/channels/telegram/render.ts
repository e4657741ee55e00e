// The agent's Markdown as Telegram HTML. Telegram accepts only a few tags and rejects a whole
// message for one unbalanced or unknown tag, so this renderer escapes everything it does not
// recognise and only ever emits tags in matched pairs: a delimiter without its partner stays text.
// Pure.

export const escapeHtml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

const escapeAttr = (s: string): string => escapeHtml(s).replace(/"/g, "&quot;")

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/
const QUOTE = /^\s{0,3}>\s?(.*)$/
const BULLET = /^(\s*)[-*+]\s+(.*)$/
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/
const TABLE_ROW = /^\s*\|.*\|\s*$/
const TABLE_SEPARATOR = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/
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

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c)

/** Index of the closing backtick run of the same length, or -1. */
const codeSpanEnd = (s: string, start: number, ticks: number): number => {
  let i = start
  while (i < s.length) {
    const j = s.indexOf("`".repeat(ticks), i)
    if (j < 0) return -1
    let k = j
    while (s[k] === "`") k++
    if (k - j === ticks) return j
    i = k
  }
  return -1
}

const tickRun = (s: string, i: number) => {
  let k = i
  while (s[k] === "`") k++
  return k - i
}

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

const splitRow = (line: string): Array<string> =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim())

/** Tables have no Telegram equivalent: aligned columns in a monospace block read well on a phone. */
const renderTable = (rows: ReadonlyArray<string>): string => {
  const cells = rows.filter((r) => !TABLE_SEPARATOR.test(r)).map(splitRow)
  const columns = Math.max(...cells.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)))
  const lines = cells.map((r) => widths.map((w, c) => (r[c] ?? "").padEnd(w)).join(" | ").trimEnd())
  return `<pre>${escapeHtml(lines.join("\n"))}</pre>`
}

const renderCode = (language: string, body: ReadonlyArray<string>): string => {
  const code = escapeHtml(body.join("\n"))
  return language === "" ? `<pre>${code}</pre>` : `<pre><code class="language-${language}">${code}</code></pre>`
}

/** Markdown as Telegram HTML: only b, i, s, code, pre, a, blockquote, tg-spoiler, always balanced. */
export const renderMarkdown = (markdown: string): string => {
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n")
  const out: Array<string> = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    const fence = FENCE.exec(line)
    if (fence) {
      const marker = fence[1]!
      const body: Array<string> = []
      i++
      while (i < lines.length && !new RegExp(`^\\s{0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`).test(lines[i]!)) {
        body.push(lines[i]!)
        i++
      }
      i++ // the closing fence (or the end: an unclosed fence runs to the end of the text)
      out.push(renderCode(fence[2]!.replace(/[^\w+#-]/g, ""), body))
      continue
    }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1]!)) {
      const rows: Array<string> = []
      while (i < lines.length && TABLE_ROW.test(lines[i]!)) rows.push(lines[i++]!)
      out.push(renderTable(rows))
      continue
    }
    if (QUOTE.test(line)) {
      const quoted: Array<string> = []
      while (i < lines.length && QUOTE.test(lines[i]!)) quoted.push(renderInline(QUOTE.exec(lines[i++]!)![1]!))
      out.push(`<blockquote>${quoted.join("\n")}</blockquote>`)
      continue
    }
    const heading = HEADING.exec(line)
    if (heading) out.push(`<b>${renderInline(heading[1]!)}</b>`)
    else if (RULE.test(line)) out.push("──────────")
    else {
      const bullet = BULLET.exec(line)
      out.push(bullet ? `${bullet[1]}• ${renderInline(bullet[2]!)}` : renderInline(line))
    }
    i++
  }
  return out.join("\n").trim()
}
