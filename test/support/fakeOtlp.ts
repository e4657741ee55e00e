// A fake OTLP/HTTP collector (JSON): records the spans the daemon exports to {url}/v1/traces.
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

export interface ExportedSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly attributes: Record<string, unknown>
  readonly events: ReadonlyArray<{ name: string }>
}

const valueOf = (v: Record<string, unknown>): unknown =>
  v["stringValue"] ?? v["intValue"] ?? v["boolValue"] ?? v["doubleValue"] ?? v

export const startFakeOtlp = async () => {
  const spans: Array<ExportedSpan> = []
  /** Export requests and body bytes received (benchmarks: what tracing sends per turn). */
  const received = { requests: 0, bytes: 0, protobufRequests: 0 }
  /** Each export's request headers and resource attributes (what a hosted backend would see). */
  const exports: Array<{ headers: Record<string, string | string[] | undefined>; resource: Record<string, unknown> }> = []
  const server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      if (req.method === "POST" && req.url === "/v1/traces") {
        received.requests++
        for (const c of chunks) received.bytes += c.length
        // Protobuf exports (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf) are counted, not decoded.
        if (req.headers["content-type"] === "application/x-protobuf") {
          received.protobufRequests++
          res.writeHead(200, { "content-type": "application/x-protobuf" })
          res.end()
          return
        }
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
          resourceSpans: Array<{ resource?: { attributes?: Array<any> }; scopeSpans: Array<{ spans: Array<any> }> }>
        }
        for (const rs of body.resourceSpans) {
          exports.push({
            headers: req.headers,
            resource: Object.fromEntries(
              (rs.resource?.attributes ?? []).map((a: { key: string; value: Record<string, unknown> }) => [a.key, valueOf(a.value)])
            )
          })
          for (const ss of rs.scopeSpans) {
            for (const s of ss.spans) {
              spans.push({
                traceId: s.traceId,
                spanId: s.spanId,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
                name: s.name,
                attributes: Object.fromEntries(
                  (s.attributes ?? []).map((a: { key: string; value: Record<string, unknown> }) => [a.key, valueOf(a.value)])
                ),
                events: s.events ?? []
              })
            }
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    received,
    exports,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
