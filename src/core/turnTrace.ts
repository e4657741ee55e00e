// Tracing of a request: the attributes its spans carry, the parent a caller's traceparent gives,
// and the time it waited in the queue as a span after the fact.
import { Context, Effect, Exit, Option, Tracer } from "effect"
import type { Inbound } from "../domain/model.ts"
import { parseTraceparent } from "../domain/traceparent.ts"
import type { QueuedItem } from "./CommandQueue.ts"

export const requestAttributes = (r: Inbound) => ({
  "switchboard.source": r.source,
  "switchboard.request_id": r.id,
  "switchboard.priority": r.priority
})

export const parentOf = (r: Inbound): Tracer.AnySpan | undefined => {
  const ids = parseTraceparent(r.traceparent)
  return ids && Tracer.externalSpan(ids)
}

/**
 * The time an item spent queued, as a span after the fact (a span cannot cross the queue; its
 * start time can). A sibling of the dispatch span under the request's inbound span.
 */
export const recordQueueWait = (item: QueuedItem, startedAt: number) =>
  Effect.gen(function*() {
    const tracer = yield* Effect.tracer
    const current = yield* Effect.currentSpan.pipe(Effect.option)
    const parent = Option.orElse(Option.fromNullishOr(parentOf(item.request)), () => current)
    const span = tracer.span({
      name: "queue.wait",
      parent,
      annotations: Context.empty(),
      links: [],
      startTime: BigInt(item.enqueuedAt) * 1_000_000n,
      kind: "internal",
      root: Option.isNone(parent),
      sampled: Option.match(current, { onNone: () => true, onSome: (s) => s.sampled })
    })
    for (const [k, v] of Object.entries(requestAttributes(item.request))) span.attribute(k, v)
    span.end(BigInt(startedAt) * 1_000_000n, Exit.void)
  })
