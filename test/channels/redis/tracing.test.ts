// A bus entry's `traceparent` continues the publisher's trace (BUILT daemon, a redis-server of the
// test's own, the fake OTLP collector): the entry, the request, its turn and the XADD of its reply
// are spans of the publisher's trace, under the publisher's span.
import { describe, expect, it } from "vitest"
import { eventually, startDaemon } from "../../support/daemon.ts"
import { startFakeOtlp } from "../../support/fakeOtlp.ts"
import { connectBus, redisServer } from "../../support/redis.ts"

describe("the bus in traces", () => {
  it("traceparent on an entry: redis.entry → inbound → dispatch → session.turn → router.deliver → redis.publish", async () => {
    const redis = await redisServer()
    await redis.start()
    const collector = await startFakeOtlp()
    const daemon = await startDaemon({ env: { REDIS_URL: redis.url(0), OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, SWITCHBOARD_REDIS_BLOCK: "200 millis" } })
    const bus = await connectBus(redis.url(0), { flush: false })
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
    const publisherSpan = "00f067aa0ba902b7"
    try {
      await bus.publish({ type: "message", source: "redis:traced", text: "follow me", id: "t-1", traceparent: `00-${traceId}-${publisherSpan}-01` })
      await bus.waitOutbound((e) => e.fields["requestId"] === "redis:traced~t-1")
    } finally {
      expect(await daemon.stop()).toBe(0) // shutdown flushes the exporter
      await bus.close()
      await redis.dispose()
    }
    const trace = await eventually(async () => {
      const spans = collector.spans.filter((s) => s.traceId === traceId)
      return spans.some((s) => s.name === "redis.publish") ? spans : undefined
    })
    await collector.close()
    const one = (name: string) => {
      const found = trace.filter((s) => s.name === name)
      expect(found, name).toHaveLength(1)
      return found[0]!
    }
    const entry = one("redis.entry")
    expect(entry.parentSpanId).toBe(publisherSpan)
    expect(entry.attributes).toMatchObject({ "switchboard.entry_type": "message" })
    const inbound = one("inbound")
    expect(inbound.parentSpanId).toBe(entry.spanId)
    expect(inbound.attributes).toMatchObject({ "switchboard.source": "redis:traced", "switchboard.request_id": "redis:traced~t-1" })
    const dispatch = one("dispatch")
    expect(dispatch.parentSpanId).toBe(inbound.spanId)
    expect(one("session.turn").parentSpanId).toBe(dispatch.spanId)
    const deliver = one("router.deliver")
    expect(deliver.parentSpanId).toBe(dispatch.spanId)
    expect(one("redis.publish").parentSpanId).toBe(deliver.spanId)
  })
})
