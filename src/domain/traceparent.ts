// W3C traceparent ↔ span ids, so a request's trace survives the queue (spans do not travel
// through queues; their ids do).
const PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface SpanIds {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

export const formatTraceparent = (ids: SpanIds): string =>
  `00-${ids.traceId}-${ids.spanId}-${ids.sampled ? "01" : "00"}`

export const parseTraceparent = (header: string | undefined): SpanIds | undefined => {
  const m = header === undefined ? null : PATTERN.exec(header.trim().toLowerCase())
  if (m === null) return undefined
  return { traceId: m[1]!, spanId: m[2]!, sampled: (parseInt(m[3]!, 16) & 1) === 1 }
}
