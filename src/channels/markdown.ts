// The Markdown the agent writes, as the channels' renderers read it: its blocks, code spans and
// tables. Each channel renders these to its own format (Telegram HTML, Slack mrkdwn). Pure.

const FENCE = /^\s{0,3}(`{3,}|~{3,})\s*([\w+#.-]*)[^`]*$/
const HEADING = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/
const QUOTE = /^\s{0,3}>\s?(.*)$/
const BULLET = /^(\s*)[-*+]\s+(.*)$/
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/
const TABLE_ROW = /^\s*\|.*\|\s*$/
const TABLE_SEPARATOR = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/

/** The line that closes a fence opened with `marker` (at least as many of the same character). */
const closesFence = (marker: string, line: string) =>
  new RegExp(`^\\s{0,3}${marker[0] === "`" ? "`" : "~"}{${marker.length},}\\s*$`).test(line)

export const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}]/u.test(c)

/** Length of the backtick run at `i`. */
export const tickRun = (s: string, i: number) => {
  let k = i
  while (s[k] === "`") k++
  return k - i
}

/** Index of the closing backtick run of the same length, or -1. */
export const codeSpanEnd = (s: string, start: number, ticks: number): number => {
  for (let i = start; i < s.length;) {
    const j = s.indexOf("`".repeat(ticks), i)
    if (j < 0) return -1
    const run = tickRun(s, j)
    if (run === ticks) return j
    i = j + run
  }
  return -1
}

const splitRow = (line: string): Array<string> =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim())

/** A Markdown table as lines of aligned columns (separator rows dropped), for a monospace block. */
export const alignTable = (rows: ReadonlyArray<string>): Array<string> => {
  const cells = rows.filter((r) => !TABLE_SEPARATOR.test(r)).map(splitRow)
  const columns = Math.max(...cells.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)))
  return cells.map((r) => widths.map((w, c) => (r[c] ?? "").padEnd(w)).join(" | ").trimEnd())
}

export type Block =
  | { readonly kind: "code"; readonly language: string; readonly body: ReadonlyArray<string> }
  | { readonly kind: "table"; readonly rows: ReadonlyArray<string> }
  | { readonly kind: "quote"; readonly lines: ReadonlyArray<string> }
  | { readonly kind: "heading"; readonly text: string }
  | { readonly kind: "rule" }
  | { readonly kind: "bullet"; readonly indent: string; readonly text: string }
  | { readonly kind: "line"; readonly text: string }

/** The blocks of a Markdown text, in order; each line of text not in a block is a `line`. */
export const markdownBlocks = (markdown: string): Array<Block> => {
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n")
  const out: Array<Block> = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    const fence = FENCE.exec(line)
    if (fence) {
      const marker = fence[1]!
      const body: Array<string> = []
      i++
      while (i < lines.length && !closesFence(marker, lines[i]!)) body.push(lines[i++]!)
      i++ // the closing fence (or the end: an unclosed fence runs to the end of the text)
      out.push({ kind: "code", language: fence[2]!.replace(/[^\w+#-]/g, ""), body })
      continue
    }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1]!)) {
      const rows: Array<string> = []
      while (i < lines.length && TABLE_ROW.test(lines[i]!)) rows.push(lines[i++]!)
      out.push({ kind: "table", rows })
      continue
    }
    if (QUOTE.test(line)) {
      const quoted: Array<string> = []
      while (i < lines.length && QUOTE.test(lines[i]!)) quoted.push(QUOTE.exec(lines[i++]!)![1]!)
      out.push({ kind: "quote", lines: quoted })
      continue
    }
    const heading = HEADING.exec(line)
    const bullet = BULLET.exec(line)
    if (heading) out.push({ kind: "heading", text: heading[1]! })
    else if (RULE.test(line)) out.push({ kind: "rule" })
    else if (bullet) out.push({ kind: "bullet", indent: bullet[1]!, text: bullet[2]! })
    else out.push({ kind: "line", text: line })
    i++
  }
  return out
}
