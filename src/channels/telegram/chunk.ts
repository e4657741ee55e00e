// Splitting rendered Telegram HTML into messages of at most `limit` characters. Telegram rejects a
// longer message, and a message whose tags do not balance, so a cut inside <pre>, <b>, … closes
// the open tags at the end of one chunk and reopens them at the start of the next. Cuts prefer a
// paragraph break, then a line break, then a space; a tag or an entity is never cut. Pure.

export const TELEGRAM_LIMIT = 4096

interface OpenTag {
  readonly name: string
  readonly raw: string
}

interface Cut {
  /** End of this chunk's content (exclusive), in the source. */
  readonly end: number
  /** Where the next chunk's content starts (after the whitespace of the break). */
  readonly resume: number
  /** Tags open at `end`. */
  readonly stack: ReadonlyArray<OpenTag>
  /** Length of the chunk up to `end`, reopened prefix included. */
  readonly length: number
}

const closers = (stack: ReadonlyArray<OpenTag>) =>
  stack.slice().reverse().map((t) => `</${t.name}>`).join("")

const closersLength = (stack: ReadonlyArray<OpenTag>) => stack.reduce((n, t) => n + t.name.length + 3, 0)

/** The unit starting at `i`: a whole tag, a whole entity, or one code point. */
const unitEnd = (html: string, i: number): number => {
  const c = html.charCodeAt(i)
  if (c === 60 /* < */) {
    const j = html.indexOf(">", i)
    if (j > 0) return j + 1
  } else if (c === 38 /* & */) {
    const m = /^&(#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{1,8});/i.exec(html.slice(i, i + 12))
    if (m) return i + m[0].length
  } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < html.length) {
    return i + 2
  }
  return i + 1
}

const applyTag = (stack: Array<OpenTag>, raw: string): void => {
  const m = /^<(\/?)([a-z][\w-]*)/i.exec(raw)
  if (!m) return
  const name = m[2]!.toLowerCase()
  if (m[1] === "") {
    stack.push({ name, raw })
    return
  }
  const at = stack.map((t) => t.name).lastIndexOf(name)
  if (at >= 0) stack.splice(at, 1)
}

/**
 * Chunks of at most `limit` characters, each with balanced tags; their text, in order, is the
 * input's text (the whitespace at a cut is dropped).
 */
export const chunkHtml = (html: string, limit: number = TELEGRAM_LIMIT): Array<string> => {
  const chunks: Array<string> = []
  let start = 0
  let stack: Array<OpenTag> = []
  while (start < html.length) {
    const prefix = stack.map((t) => t.raw).join("")
    const current = stack.slice()
    let length = prefix.length
    let closeLength = closersLength(current)
    let hasText = false
    const best: { paragraph?: Cut; line?: Cut; word?: Cut } = {}
    let i = start
    let hardCut: Cut | undefined
    while (i < html.length) {
      const end = unitEnd(html, i)
      const unit = html.slice(i, end)
      const isTag = unit.length > 1 && unit[0] === "<"
      if (!isTag && hasText && (unit === "\n" || unit === " ")) {
        const cut = (resume: number): Cut => ({ end: i, resume, stack: current.slice(), length })
        if (unit === " ") best.word = cut(i + 1)
        else if (html[i + 1] === "\n") {
          let r = i
          while (html[r] === "\n") r++
          best.paragraph = cut(r)
        } else best.line = cut(i + 1)
      }
      let closing = closeLength
      if (isTag) {
        const next = current.slice()
        applyTag(next, unit)
        closing = closersLength(next)
      }
      if (length + unit.length + closing > limit) {
        hardCut = { end: i, resume: i, stack: current.slice(), length }
        break
      }
      length += unit.length
      closeLength = closing
      if (isTag) applyTag(current, unit)
      else if (unit !== " " && unit !== "\n" && unit !== "\t") hasText = true
      i = end
    }
    if (hardCut === undefined) {
      chunks.push(prefix + html.slice(start))
      break
    }
    const half = limit / 2
    const cut = [best.paragraph, best.line, best.word].find((c) => c !== undefined && c.length >= half) ??
      best.paragraph ?? best.line ?? best.word ?? hardCut
    if (cut.end <= start && cut.resume <= start) {
      // Not even one unit fits after the reopened tags; give up on formatting rather than loop.
      chunks.push(prefix + html.slice(start, start + limit))
      start += limit
      stack = []
      continue
    }
    chunks.push(prefix + html.slice(start, cut.end) + closers(cut.stack))
    start = cut.resume
    stack = cut.stack.slice()
  }
  return chunks.filter((c) => htmlToPlain(c).trim().length > 0)
}

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }

/** The text Telegram would show for `html`: tags removed, entities decoded. */
export const htmlToPlain = (html: string): string =>
  html.replace(/<[^>]*>/g, "").replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === "#") {
      const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10)
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole
    }
    return ENTITIES[name.toLowerCase()] ?? whole
  })
