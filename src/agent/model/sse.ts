// Server-sent events, as chat/completions streams them: `data: <json>` lines, events separated by
// a blank line, `data: [DONE]` at the end. Pure and incremental: feed text as it arrives.

export interface SseDecoder {
  /** Feed a piece of the body; returns the data payloads of the events it completed. */
  readonly push: (text: string) => ReadonlyArray<string>
  /** The body ended: returns the payload of a last event without a trailing blank line. */
  readonly end: () => ReadonlyArray<string>
}

export const DONE = "[DONE]"

export const makeSseDecoder = (): SseDecoder => {
  let buffer = ""
  let data: Array<string> = []
  const line = (raw: string, out: Array<string>) => {
    const l = raw.endsWith("\r") ? raw.slice(0, -1) : raw
    if (l === "") {
      if (data.length > 0) out.push(data.join("\n"))
      data = []
      return
    }
    if (l.startsWith(":")) return // comment / keep-alive
    const colon = l.indexOf(":")
    const field = colon < 0 ? l : l.slice(0, colon)
    let value = colon < 0 ? "" : l.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") data.push(value)
  }
  return {
    push: (text) => {
      buffer += text
      const out: Array<string> = []
      let i: number
      while ((i = buffer.indexOf("\n")) >= 0) {
        line(buffer.slice(0, i), out)
        buffer = buffer.slice(i + 1)
      }
      return out
    },
    end: () => {
      const out: Array<string> = []
      if (buffer !== "") line(buffer, out)
      buffer = ""
      line("", out)
      return out
    }
  }
}
