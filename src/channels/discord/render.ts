// The agent's Markdown as Discord Markdown. Discord renders most of it natively (bold, italic,
// strike, code, fences with a language, quotes, lists, masked links, headings # to ###), so this
// only rewrites what Discord would show as raw syntax: tables (aligned columns in a code block),
// headings below ### (bold), horizontal rules and images (a link). Code is never touched. Pure.

const FENCE = /^\s{0,3}(`{3,}|~{3,})/
const DEEP_HEADING = /^\s{0,3}#{4,6}\s+(.*?)\s*#*\s*$/
const RULE = /^\s{0,3}([-*_])(\s*\1){2,}\s*$/
const TABLE_ROW = /^\s*\|.*\|\s*$/
const TABLE_SEPARATOR = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/
const IMAGE = /!\[([^\]\n]*)\]\(([^()\s]+)\)/g

/** The line that closes a fence opened by `marker` (same character, at least as long). */
export const closesFence = (marker: string, line: string): boolean =>
  new RegExp(`^\\s{0,3}\\${marker[0]}{${marker.length},}\\s*$`).test(line)

/** The fence marker a line opens (``` or ~~~, any length), if it is a fence line. */
export const fenceMarker = (line: string): string | undefined => FENCE.exec(line)?.[1]

const splitRow = (line: string): Array<string> =>
  line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((cell) => cell.trim())

const renderTable = (rows: ReadonlyArray<string>): Array<string> => {
  const cells = rows.filter((r) => !TABLE_SEPARATOR.test(r)).map(splitRow)
  const columns = Math.max(...cells.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)))
  return ["```", ...cells.map((r) => widths.map((w, c) => (r[c] ?? "").padEnd(w)).join(" | ").trimEnd()), "```"]
}

export const renderMarkdown = (markdown: string): string => {
  const lines = markdown.replace(/\r\n?/g, "\n").split("\n")
  const out: Array<string> = []
  let i = 0
  while (i < lines.length) {
    const line = lines[i]!
    const marker = fenceMarker(line)
    if (marker !== undefined) {
      out.push(line)
      i++
      while (i < lines.length && !closesFence(marker, lines[i]!)) out.push(lines[i++]!)
      if (i < lines.length) out.push(lines[i++]!)
      else out.push(marker) // an unclosed fence would swallow everything after it in the next chunk
      continue
    }
    if (TABLE_ROW.test(line) && i + 1 < lines.length && TABLE_SEPARATOR.test(lines[i + 1]!)) {
      const rows: Array<string> = []
      while (i < lines.length && TABLE_ROW.test(lines[i]!)) rows.push(lines[i++]!)
      out.push(...renderTable(rows))
      continue
    }
    const deep = DEEP_HEADING.exec(line)
    if (deep) out.push(`**${deep[1]}**`)
    else if (RULE.test(line)) out.push("──────────")
    else out.push(line.replace(IMAGE, (_, alt: string, url: string) => `[${alt === "" ? "image" : alt}](${url})`))
    i++
  }
  return out.join("\n").trim()
}
