// Logs (pretty on a terminal, JSON lines otherwise; level from config) and traces (OTLP/HTTP when an
// endpoint is set). Traces go through Effect's own OTLP exporter, not the OpenTelemetry SDK
// (measured: the SDK costs more per turn and more memory for the same spans, see the README); the
// standard OTEL_* variables are read by config/otel.ts.
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Logger, Option, Redacted, References, Tracer } from "effect"
import { Headers } from "effect/http"
import { OtlpExporter, OtlpSerialization, OtlpTracer } from "effect/observability"
import { withSampler } from "../domain/otel.ts"
import { VERSION } from "../domain/version.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"

export const Observability = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    // A person at a terminal reads pretty lines; a service manager or a pipe gets JSON.
    const format = Option.getOrElse(config.log.format, () => process.stdout.isTTY ? "pretty" : "json")
    const logger = Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty()])
    const level = Layer.succeed(References.MinimumLogLevel, config.log.level)
    const { otel } = config
    const tracing = Option.match(otel.endpoint, {
      onNone: () => Layer.empty,
      onSome: (endpoint) =>
        Layer.effect(
          Tracer.Tracer,
          Effect.map(
            OtlpTracer.make({
              url: `${endpoint}/v1/traces`,
              resource: { serviceName: otel.serviceName, serviceVersion: VERSION, attributes: otel.resourceAttributes },
              headers: Redacted.value(otel.headers),
              exportInterval: "2 seconds"
            }),
            (tracer) => withSampler(tracer, { name: otel.sampler, ratio: otel.samplerArg })
          )
        ).pipe(
          Layer.provideMerge(OtlpExporter.layerFlusher),
          Layer.provide(otel.protocol === "http/protobuf" ? OtlpSerialization.layerProtobuf : OtlpSerialization.layerJson),
          // The headers carry an API key: redacted wherever an export failure is logged.
          Layer.provide(Layer.succeed(Headers.CurrentRedactedNames)([
            ...Headers.CurrentRedactedNames.defaultValue(),
            ...Object.keys(Redacted.value(otel.headers)).map((k) => k.toLowerCase())
          ])),
          // Keep-alive: one connection to the collector, not one per export.
          Layer.provide(NodeHttpClient.layerNodeHttpOptions({ keepAlive: true }))
        )
    })
    return Layer.mergeAll(logger, level, tracing)
  })
)
