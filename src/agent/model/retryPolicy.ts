// When and how long to wait before retrying a model request. Pure.

/** 429 and 5xx (and 408) are worth another try; other 4xx are not. */
export const isRetryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500

/**
 * The wait a provider asked for, in ms: `retry-after-ms` (OpenAI), then `retry-after` in seconds
 * or as an HTTP date. Undefined when absent or unreadable.
 */
export const retryAfterMs = (headers: Readonly<Record<string, string | undefined>>, now: number): number | undefined => {
  const ms = headers["retry-after-ms"]
  if (ms !== undefined && ms.trim() !== "" && Number.isFinite(Number(ms))) return Math.max(0, Number(ms))
  const raw = headers["retry-after"]?.trim()
  if (raw === undefined || raw === "") return undefined
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000)
  const at = Date.parse(raw)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

export interface Backoff {
  readonly baseMs: number
  readonly maxMs: number
}

/**
 * Delay before retry number `retry` (0-based): the provider's own figure when it gave one, else
 * exponential backoff with up to 25% jitter (`random` in [0, 1)), both capped at maxMs.
 */
export const retryDelayMs = (retry: number, policy: Backoff, requested: number | undefined, random: number): number => {
  if (requested !== undefined) return Math.min(requested, policy.maxMs)
  const exp = policy.baseMs * 2 ** retry
  return Math.min(Math.round(exp * (1 + 0.25 * random)), policy.maxMs)
}
