// The OTEL_* values as the daemon reads them, and the sampler's decisions (pure).
import { Effect, Tracer } from "effect"
import { describe, expect, it } from "vitest"
import { parseKeyValues, sampleRoot, withSampler } from "../../src/domain/otel.ts"

describe("OTEL_* values", () => {
  it("reads key=value lists with percent-encoded values and refuses an item without a key or =", () => {
    expect(parseKeyValues("api-key=a%20b, x-team = ops ,")).toEqual({ "api-key": "a b", "x-team": "ops" })
    expect(parseKeyValues("")).toEqual({})
    expect(parseKeyValues("api-key")).toBeUndefined()
    expect(parseKeyValues("=v")).toBeUndefined()
    expect(parseKeyValues("k=%E0%A4%A")).toBeUndefined()
  })

  it("samples a trace where it starts: ratios by chance, parent-based samplers follow a caller", () => {
    const ratio = (name: Parameters<typeof sampleRoot>[0]["name"], r: number) => ({ name, ratio: r })
    expect(sampleRoot(ratio("always_off", 1), true, 0)).toBe(false)
    expect(sampleRoot(ratio("always_on", 1), false, 0.9)).toBe(true)
    expect(sampleRoot(ratio("traceidratio", 0.25), undefined, 0.2)).toBe(true)
    expect(sampleRoot(ratio("traceidratio", 0.25), undefined, 0.3)).toBe(false)
    expect(sampleRoot(ratio("parentbased_traceidratio", 0.25), true, 0.9)).toBe(true)
    expect(sampleRoot(ratio("parentbased_always_on", 1), false, 0)).toBe(false)
    expect(sampleRoot(ratio("parentbased_always_off", 1), undefined, 0)).toBe(false)
  })

  it("an unsampled trace is unsampled all the way down: its children are not recorded either", () => {
    const ended: Array<{ name: string; sampled: boolean }> = []
    const base = Tracer.make({
      span: (options) => {
        const span = new Tracer.NativeSpan(options)
        const end = span.end.bind(span)
        span.end = (time, exit) => {
          ended.push({ name: options.name, sampled: span.sampled })
          end(time, exit)
        }
        return span
      }
    })
    const tracer = withSampler(base, { name: "traceidratio", ratio: 0.5 }, () => 0.7)
    Effect.runSync(
      Effect.succeed(1).pipe(Effect.withSpan("child"), Effect.withSpan("root"), Effect.withTracer(tracer))
    )
    expect(ended).toEqual([{ name: "child", sampled: false }, { name: "root", sampled: false }])
  })
})
