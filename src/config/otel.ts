// Traces over OTLP/HTTP, configured by the standard OpenTelemetry variables, so a hosted backend
// (Honeycomb, Grafana Cloud, Datadog, …) is one endpoint and one header away.
import { Config, Option, Redacted, Schema } from "effect"
import { parseKeyValues, SAMPLERS } from "../domain/otel.ts"
import { httpUrl } from "./values.ts"

const keyValues = (name: string) =>
  Config.schema(
    Schema.String.check(Schema.makeFilter((s: string) => parseKeyValues(s) !== undefined ? undefined : "a list key=value,key=value")),
    name
  ).pipe(Config.withDefault(""), Config.map((s) => parseKeyValues(s) ?? {}))

export const OtelConfig = Config.all({
  endpoint: Config.option(httpUrl("OTEL_EXPORTER_OTLP_ENDPOINT", "")).pipe(
    Config.map(Option.filter((s) => s.length > 0))
  ),
  serviceName: Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault("switchboard")),
  /** `api-key=…,x-team=…`: sent with every export; secret (an API key), so Redacted. */
  headers: keyValues("OTEL_EXPORTER_OTLP_HEADERS").pipe(Config.map((h) => Redacted.make(h))),
  resourceAttributes: keyValues("OTEL_RESOURCE_ATTRIBUTES"),
  /** JSON by default (readable, what the tests' collector parses); protobuf is what most collectors default to. */
  protocol: Config.Literals(["http/json", "http/protobuf"], "OTEL_EXPORTER_OTLP_PROTOCOL").pipe(Config.withDefault("http/json" as const)),
  sampler: Config.Literals(SAMPLERS, "OTEL_TRACES_SAMPLER").pipe(Config.withDefault("parentbased_always_on" as const)),
  samplerArg: Config.schema(
    Schema.NumberFromString.check(Schema.isBetween({ minimum: 0, maximum: 1 }, { expected: "a ratio from 0 to 1" })),
    "OTEL_TRACES_SAMPLER_ARG"
  ).pipe(Config.withDefault(1))
})
