// Stored copies of replies (the request log, the HTTP inbox) are bounded in bytes: a longer text is
// cut at a character boundary and ends with a marker saying how much was left out. Pure.

/** UTF-8 bytes of a text: what the byte budgets count. */
export const byteSize = (text: string): number => Buffer.byteLength(text, "utf8")

export const truncationMarker = (omittedBytes: number) => `\n… [truncated: ${omittedBytes} more bytes]`

/** `text` itself when it fits in `maxBytes`, else its longest prefix that fits with the marker. */
export const truncateStored = (text: string, maxBytes: number): string => {
  const total = byteSize(text)
  if (total <= maxBytes) return text
  // The marker's own size depends on the count; reserve for the longest it can be.
  const room = Math.max(0, maxBytes - byteSize(truncationMarker(total)))
  let cut = Math.min(text.length, room)
  while (cut > 0 && byteSize(text.slice(0, cut)) > room) cut = Math.floor(cut * 0.9)
  // Never split a surrogate pair.
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut--
  const kept = text.slice(0, cut)
  return kept + truncationMarker(total - byteSize(kept))
}
