// The digest as text: items grouped (per check or hook), each group with its count, first and last
// time and its latest lines; Markdown for chats that render it (Telegram turns it into HTML),
// plain text elsewhere; split at line boundaries into parts that fit the channel's limit. Pure.
import type { Severity } from "./checkFile.ts"

export interface DigestItem {
  readonly seq: number
  readonly target: string
  /** What it is grouped by: `check db-backup`, `webhook ci`. */
  readonly group: string
  readonly severity: Severity
  readonly at: number
  readonly text: string
  /** Why it is in the digest rather than sent at once. */
  readonly why: "rule" | "flapping" | "cooldown" | "storm" | "quiet"
}

export interface DigestStyle {
  readonly markdown: boolean
  /** Characters per message (after the channel's rendering), or undefined for no limit. */
  readonly maxChars: number | undefined
}

export interface DigestGroup {
  readonly group: string
  readonly severity: Severity
  readonly count: number
  readonly first: number
  readonly last: number
  readonly latest: ReadonlyArray<string>
  readonly over: Readonly<Record<string, number>>
}

const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 }
/** Lines shown per group; the count says how many there were. */
const LATEST = 3

export const groupItems = (items: ReadonlyArray<DigestItem>): ReadonlyArray<DigestGroup> => {
  const groups = new Map<string, Array<DigestItem>>()
  for (const item of items) {
    const list = groups.get(item.group) ?? []
    list.push(item)
    groups.set(item.group, list)
  }
  return [...groups.entries()]
    .map(([group, list]): DigestGroup => {
      const sorted = [...list].sort((a, b) => a.at - b.at || a.seq - b.seq)
      const over: Record<string, number> = {}
      for (const i of sorted) if (i.why !== "rule") over[i.why] = (over[i.why] ?? 0) + 1
      return {
        group,
        severity: sorted.reduce<Severity>((s, i) => (RANK[i.severity] < RANK[s] ? i.severity : s), "info"),
        count: sorted.length,
        first: sorted[0]!.at,
        last: sorted.at(-1)!.at,
        latest: sorted.slice(-LATEST).map((i) => i.text),
        over
      }
    })
    // Worst first, then the busiest.
    .sort((a, b) => RANK[a.severity] - RANK[b.severity] || b.count - a.count || a.group.localeCompare(b.group))
}

const escapeMarkdown = (s: string) => s.replace(/[\\`*_~|[\]]/g, "\\$&")

const WHY: Record<string, string> = {
  flapping: "while flapping",
  cooldown: "within the cooldown",
  storm: "over the alert limit",
  quiet: "in quiet hours"
}

/** Length once Telegram has rendered it: escapes vanish, `&<>` become entities, `**` becomes `<b>`. */
export const renderedLength = (line: string, style: DigestStyle): number =>
  style.markdown
    ? line.replace(/\\(.)/g, "$1").replace(/&/g, "&amp;").replace(/[<>]/g, "&lt;").replace(/\*\*/g, "<b>").length
    : line.length

/** One block of lines per group (kept together in one part when it fits). */
const groupBlock = (g: DigestGroup, style: DigestStyle, time: (ms: number) => string): Array<string> => {
  const esc = style.markdown ? escapeMarkdown : (s: string) => s
  const when = g.count === 1 ? time(g.first) : `${time(g.first)}–${time(g.last)}`
  const over = Object.entries(g.over).map(([why, n]) => `${n} ${WHY[why] ?? why}`).join(", ")
  const title = `${esc(g.group)} (${g.severity}): ${g.count}×, ${when}${over ? ` — ${over}` : ""}`
  const lines = g.latest.flatMap((t) => t.split("\n")).map((t) => `  • ${esc(t.length > 500 ? `${t.slice(0, 500)}…` : t)}`)
  if (g.count > g.latest.length) lines.unshift(`  … ${g.count - g.latest.length} earlier`)
  return [style.markdown ? `**${title}**` : title, ...lines]
}

/**
 * The digest for one target as one message, or several parts when it is over the channel's
 * limit (each part names itself `(2/3)`). Empty input: no message at all.
 */
export const renderDigest = (
  items: ReadonlyArray<DigestItem>,
  style: DigestStyle,
  time: (ms: number) => string,
  dropped = 0
): ReadonlyArray<string> => {
  if (items.length === 0 && dropped === 0) return []
  const groups = groupItems(items)
  const header = `Digest: ${items.length} item${items.length === 1 ? "" : "s"} in ${groups.length} group${groups.length === 1 ? "" : "s"}` +
    (items.length > 0 ? `, ${time(Math.min(...items.map((i) => i.at)))}–${time(Math.max(...items.map((i) => i.at)))}` : "") +
    (dropped > 0 ? ` (${dropped} older items dropped: over the digest's limit)` : "")
  const blocks = groups.map((g) => groupBlock(g, style, time))
  const limit = style.maxChars === undefined ? Infinity : style.maxChars - 16 // room for " (12/12)" and slack
  const parts: Array<Array<string>> = [[style.markdown ? `**${header}**` : header]]
  let size = renderedLength(parts[0]![0]!, style)
  const push = (line: string) => {
    const n = renderedLength(line, style) + 1
    if (size + n > limit && parts.at(-1)!.length > 0) {
      parts.push([])
      size = 0
    }
    // A single line over the limit is cut (the channel would refuse it).
    const fitted = n > limit ? line.slice(0, Math.max(1, limit - 2)) + "…" : line
    parts.at(-1)!.push(fitted)
    size += Math.min(n, limit)
  }
  for (const block of blocks) {
    const blockSize = block.reduce((n, l) => n + renderedLength(l, style) + 1, 0)
    // Start a group in a new part rather than split it, when it would fit in one.
    if (size + blockSize > limit && blockSize <= limit && parts.at(-1)!.length > 0) {
      parts.push([])
      size = 0
    }
    for (const line of block) push(line)
  }
  const texts = parts.filter((p) => p.length > 0).map((p) => p.join("\n"))
  return texts.length === 1 ? texts : texts.map((t, i) => `${t}\n(${i + 1}/${texts.length})`)
}
