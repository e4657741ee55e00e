// Session keys / sources: `<channel>:<peer>`. Pure helpers.
import { SOURCE_PATTERN } from "./model.ts"

export interface ParsedSource {
  readonly channel: string
  readonly peer: string
}

export const isSource = (s: string): boolean => SOURCE_PATTERN.test(s)

/** Split at the first colon: `telegram:1:topic:7` → channel `telegram`, peer `1:topic:7`. */
export const parseSource = (source: string): ParsedSource | undefined => {
  if (!isSource(source)) return undefined
  const i = source.indexOf(":")
  return { channel: source.slice(0, i), peer: source.slice(i + 1) }
}

export const channelOf = (source: string): string | undefined => parseSource(source)?.channel

/**
 * The request id for an HTTP client's idempotency key: scoped by its source, so two clients that
 * both number their messages 1, 2, 3… never collide, and no client can claim another channel's id
 * (`telegram:<update_id>`). `~` is outside the key alphabet, so a scoped id cannot be forged.
 */
export const scopedRequestId = (source: string, key: string): string => `${source}~${key}`
