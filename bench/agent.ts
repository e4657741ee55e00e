// Gateway overhead per agent turn beyond the model: an instant in-process model answers with N
// tool calls in one response (then the final text), and we time submit → reply in the inbox
// through the whole core graph (Intake, queue, Dispatcher, Session tool loop, Router, Inbox,
// memory file). The model's own time is measured and subtracted. Target: ≤ 3 ms p50.
import { randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, References } from "effect"
import { LanguageModel, type Response } from "effect/ai"
import { ChatModel } from "../src/agent/model/ChatModel.ts"
import { core } from "../src/layers/Core.ts"
import { AgentSession } from "../src/agent/AgentSession.ts"
import { GatewayConfig } from "../src/config/GatewayConfig.ts"
import { Intake } from "../src/core/Intake.ts"
import { RequestLog } from "../src/core/RequestLog.ts"
import { Store } from "../src/store/Store.ts"

export interface AgentBenchFigures {
  readonly toolCalls: number
  readonly turns: number
  /** Time per turn beyond the model's own, in ms. */
  readonly p50Ms: number
  readonly p95Ms: number
  readonly meanMs: number
  /** What the instant model itself took per turn (subtracted above). */
  readonly modelMsPerTurn: number
  readonly targetP50Ms: number
  readonly pass: boolean
}

const TARGET_P50_MS = 3

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

const round = (n: number) => Math.round(n * 1000) / 1000

/** An instant model: N notify calls in the first response of a turn, then "done". */
const instantModel = (toolCalls: number, spent: { ms: number }) =>
  Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: (options) =>
        Effect.sync(() => {
          const t0 = performance.now()
          const last = options.prompt.content.at(-1)
          const parts: Array<Response.PartEncoded> = last?.role === "tool" || toolCalls === 0
            ? [{ type: "text", text: "done" }, { type: "finish", reason: "stop", usage: { inputTokens: { total: 1 }, outputTokens: { total: 1 } } }]
            : [
              ...Array.from({ length: toolCalls }, (_, i): Response.PartEncoded => ({
                type: "tool-call",
                id: `c${i}-${randomUUID().slice(0, 6)}`,
                name: "notify",
                params: { text: `step ${i}` }
              })),
              { type: "finish", reason: "tool-calls", usage: { inputTokens: { total: 1 }, outputTokens: { total: 1 } } }
            ]
          spent.ms += performance.now() - t0
          return parts
        }),
      streamText: () => Effect.die("not used") as never
    })
  )

const measure = (toolCalls: number, turns: number, warmup: number) =>
  Effect.gen(function*() {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-bench-"))
    const spent = { ms: 0 }
    const layer = core(AgentSession.layer).pipe(
      Layer.provideMerge(ChatModel.fromLanguageModel("instant").pipe(Layer.provide(instantModel(toolCalls, spent)))),
      Layer.provideMerge(Store.memory),
      Layer.provideMerge(GatewayConfig.test((s) => ({ ...s, stateDir: dir, model: { ...s.model, provider: "openai" } })))
    )
    const samples = yield* Effect.gen(function*() {
      const intake = yield* Intake
      const requests = yield* RequestLog
      const out: Array<number> = []
      for (let i = 0; i < warmup + turns; i++) {
        const before = spent.ms
        const id = `bench-${i}`
        const t0 = performance.now()
        yield* intake.submit({ id, source: "http:bench", text: `turn ${i}` })
        yield* requests.await(id, 10_000)
        const elapsed = performance.now() - t0 - (spent.ms - before)
        if (i >= warmup) out.push(elapsed)
      }
      return out
    }).pipe(Effect.provide(layer), Effect.provideService(References.MinimumLogLevel, "Error"))
    rmSync(dir, { recursive: true, force: true })
    const sorted = [...samples].sort((a, b) => a - b)
    const p50 = quantile(sorted, 0.5)
    return {
      toolCalls,
      turns,
      p50Ms: round(p50),
      p95Ms: round(quantile(sorted, 0.95)),
      meanMs: round(samples.reduce((a, b) => a + b, 0) / samples.length),
      modelMsPerTurn: round(spent.ms / (turns + warmup)),
      targetP50Ms: TARGET_P50_MS,
      pass: p50 <= TARGET_P50_MS
    } satisfies AgentBenchFigures
  })

/** Figures for 0, 1 and 3 tool calls per turn. */
export const agentBench = (options: { readonly turns?: number; readonly warmup?: number } = {}) =>
  Effect.runPromise(
    Effect.forEach([0, 1, 3], (n) => measure(n, options.turns ?? 200, options.warmup ?? 50))
  )

// `node bench/agent.ts` runs it on its own.
if (import.meta.main) {
  const figures = await agentBench()
  for (const f of figures) {
    console.log(
      `agent turn, ${f.toolCalls} tool call(s): p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms beyond the model (target ≤ ${f.targetP50Ms} ms p50: ${
        f.pass ? "ok" : "MISSED"
      })`
    )
  }
}
