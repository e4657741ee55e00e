// Logs (pretty on a terminal, JSON lines otherwise; level from config) and traces (OTLP/HTTP when an endpoint is set).
import { Effect, Layer, Logger, Option, References } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpSerialization, OtlpTracer } from "effect/observability"
import { VERSION } from "../domain/version.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"

export const Observability = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* GatewayConfig
    // A person at a terminal reads pretty lines; a service manager or a pipe gets JSON.
    const format = Option.getOrElse(config.log.format, () => process.stdout.isTTY ? "pretty" : "json")
    const logger = Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty()])
    const level = Layer.succeed(References.MinimumLogLevel, config.log.level)
    const tracing = Option.match(config.otel.endpoint, {
      onNone: () => Layer.empty,
      onSome: (endpoint) =>
        OtlpTracer.layer({
          url: `${endpoint}/v1/traces`,
          resource: { serviceName: config.otel.serviceName, serviceVersion: VERSION },
          exportInterval: "2 seconds"
        }).pipe(Layer.provide(OtlpSerialization.layerJson), Layer.provide(FetchHttpClient.layer))
    })
    return Layer.mergeAll(logger, level, tracing)
  })
)
