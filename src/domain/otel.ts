// The standard OpenTelemetry environment, read without the OTel SDK: `key=value` lists
// (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES) and the trace samplers
// (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG), and a tracer that samples that way. Pure.
import { Tracer } from "effect"

/** `k1=v1,k2=v2`, values percent-decoded (W3C Baggage octets, as the OTel spec says); undefined when malformed. */
export const parseKeyValues = (text: string): Record<string, string> | undefined => {
  const out: Record<string, string> = {}
  for (const item of text.split(",")) {
    if (item.trim() === "") continue
    const eq = item.indexOf("=")
    if (eq <= 0) return undefined
    const key = item.slice(0, eq).trim()
    if (key === "") return undefined
    try {
      out[key] = decodeURIComponent(item.slice(eq + 1).trim())
    } catch {
      return undefined
    }
  }
  return out
}

export const SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio"
] as const
export type SamplerName = typeof SAMPLERS[number]

export interface Sampler {
  readonly name: SamplerName
  /** The ratio of the `traceidratio` samplers, 0 … 1. */
  readonly ratio: number
}

/**
 * Whether a trace that starts here is recorded. `remote` is the sampled flag of a caller's
 * traceparent, if there is one: the parent-based samplers follow it. A span under a span of ours
 * always follows its parent (a trace is recorded whole or not at all); that is the tracer's part.
 */
export const sampleRoot = (sampler: Sampler, remote: boolean | undefined, random: number): boolean => {
  const parentBased = sampler.name.startsWith("parentbased_")
  if (parentBased && remote !== undefined) return remote
  switch (sampler.name) {
    case "always_off":
    case "parentbased_always_off":
      return false
    case "traceidratio":
    case "parentbased_traceidratio":
      return random < sampler.ratio
    default:
      return true
  }
}

/**
 * A tracer that samples where a trace starts (no parent, or a caller's traceparent) and leaves every
 * other span to follow its parent. An unsampled span is still made (the code around it needs one)
 * but never exported.
 */
export const withSampler = (tracer: Tracer.Tracer, sampler: Sampler, random: () => number = Math.random): Tracer.Tracer =>
  sampler.name === "parentbased_always_on" // the tracer's own behaviour
    ? tracer
    : Tracer.make({
      ...(tracer.context !== undefined ? { context: tracer.context } : {}),
      span(options) {
        const parent = options.parent
        if (parent._tag === "Some" && parent.value._tag === "Span") return tracer.span(options)
        const remote = parent._tag === "Some" ? parent.value.sampled : undefined
        return tracer.span({ ...options, sampled: sampleRoot(sampler, remote, random()) })
      }
    })
