// Traces as a person sees them in a backend: the spans of one request, a caller's traceparent, the
// standard OTEL_* variables (headers, resource attributes, sampler), against the built daemon.
import { describe, expect, it } from "vitest"
import { type Daemon, runDaemonToExit, startDaemon } from "../support/daemon.ts"
import { startFakeChatCompletions } from "../support/fakeChatCompletions.ts"
import { startFakeOtlp } from "../support/fakeOtlp.ts"

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
const CALLER_SPAN = "00f067aa0ba902b7"

/** A message posted as part of the caller's trace (W3C traceparent, sampled), answered. */
const askTraced = async (daemon: Daemon, body: Record<string, string>) => {
  const res = await daemon.fetch("/v1/messages", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01` }
  })
  const { id } = (await res.json()) as { id: string }
  await daemon.json(`/v1/messages/${id}?wait=10`)
}

describe("tracing with the OTEL_* environment", () => {
  it("a turn on the real model is inbound, queue.wait, dispatch, session.turn, one span per model call and router.deliver — under the caller's traceparent", async () => {
    const collector = await startFakeOtlp()
    const model = await startFakeChatCompletions({ record: false })
    model.setDefault({ text: "hello" })
    const daemon = await startDaemon({
      env: {
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: model.url,
        OPENAI_API_KEY: "sk-test",
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_EXPORTER_OTLP_HEADERS: "x-api-key=secret%20key,x-team=ops",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=staging,host.name=box-1"
      }
    })
    try {
      await askTraced(daemon, { text: "trace me", id: "t1", source: "http:tracer" })
    } finally {
      expect(await daemon.stop()).toBe(0)
      await collector.close()
      await model.close()
    }
    const trace = collector.spans.filter((s) => s.traceId === CALLER_TRACE)
    expect(trace.map((s) => s.name).sort()).toEqual(
      ["dispatch", "inbound", "LanguageModel.generateText", "queue.wait", "router.deliver", "session.turn"].sort()
    )
    const one = (name: string) => trace.find((s) => s.name === name)!
    expect(one("inbound").parentSpanId).toBe(CALLER_SPAN)
    expect(one("LanguageModel.generateText").parentSpanId).toBe(one("session.turn").spanId)
    expect(one("LanguageModel.generateText").attributes).toMatchObject({ "gen_ai.request.model": "gpt-4.1-mini", "switchboard.stream": true })
    // No span per HTTP request (the long-poll, the model's POST): only what a person looks for.
    expect(collector.spans.filter((s) => s.name === "GET" || s.name === "POST")).toEqual([])
    expect(collector.exports.length).toBeGreaterThan(0)
    for (const e of collector.exports) {
      expect(e.headers["x-api-key"]).toBe("secret key")
      expect(e.headers["x-team"]).toBe("ops")
      expect(e.resource).toMatchObject({ "service.name": "switchboard", "deployment.environment": "staging", "host.name": "box-1" })
    }
  })

  it("OTEL_TRACES_SAMPLER=parentbased_always_off records only the trace a sampled caller started", async () => {
    const collector = await startFakeOtlp()
    const daemon = await startDaemon({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_TRACES_SAMPLER: "parentbased_always_off" }
    })
    try {
      const plain = await daemon.post("/v1/messages", { text: "not traced", source: "http:tracer" })
      await daemon.json(`/v1/messages/${plain.body.id}?wait=10`)
      await askTraced(daemon, { text: "traced", source: "http:tracer" })
    } finally {
      expect(await daemon.stop()).toBe(0)
      await collector.close()
    }
    const inbound = collector.spans.filter((s) => s.name === "inbound")
    expect(inbound.map((s) => s.traceId)).toEqual([CALLER_TRACE])
  })

  it("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf exports protobuf", async () => {
    const collector = await startFakeOtlp()
    const daemon = await startDaemon({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" }
    })
    try {
      await askTraced(daemon, { text: "traced", source: "http:tracer" })
    } finally {
      expect(await daemon.stop()).toBe(0) // shutdown flushes the exporter
      await collector.close()
    }
    expect(collector.received.protobufRequests).toBeGreaterThan(0)
    expect(collector.received.protobufRequests).toBe(collector.received.requests)
  })

  it("a malformed OTEL_EXPORTER_OTLP_HEADERS stops the start with one line that does not show the value", async () => {
    const r = await runDaemonToExit({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318", OTEL_EXPORTER_OTLP_HEADERS: "api-key" })
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe("switchboard: invalid configuration: OTEL_EXPORTER_OTLP_HEADERS: a list key=value,key=value")
  })
})
