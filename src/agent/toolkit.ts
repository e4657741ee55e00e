// The agent's tools as the model sees them (names, parameters, descriptions) and their handlers,
// which delegate to AgentTools. Failures are returned to the model as results ("return" mode) so
// it can read the reason and carry on; they never fail the turn.
import { Effect, Metric, Schema } from "effect"
import { Tool, Toolkit } from "effect/ai"
import { AgentTools, ToolFailed } from "./AgentTools.ts"
import { toolCalls } from "./metrics.ts"

export const Notify = Tool.make("notify", {
  description: "Send a message now. Without target it goes to the chat of the current message. Name a target " +
    "(<channel>:<peer>, e.g. telegram:123) only to reach another known chat on purpose.",
  parameters: Schema.Struct({
    text: Schema.String.annotate({ description: "The message text" }),
    target: Schema.optional(Schema.String.annotate({ description: "Another chat, e.g. telegram:123" }))
  }),
  success: Schema.Struct({ deliveredTo: Schema.String, note: Schema.optional(Schema.String) }),
  failure: ToolFailed,
  failureMode: "return"
})

export const Ask = Tool.make("ask", {
  description: "Ask the chat of the current message a multiple-choice question and wait for the answer. " +
    "Returns answered=false when nobody answers in time. Only one question per chat at a time.",
  parameters: Schema.Struct({
    question: Schema.String,
    // An empty label would make Telegram refuse the whole keyboard (and the question).
    options: Schema.Array(Schema.String.check(Schema.isNonEmpty())).annotate({
      description: "The choices, in order (none empty)"
    })
  }),
  success: Schema.Struct({
    answered: Schema.Boolean,
    answer: Schema.optional(Schema.String),
    option: Schema.optional(Schema.Number),
    reason: Schema.optional(Schema.String)
  }),
  failure: ToolFailed,
  failureMode: "return"
})

export const Exec = Tool.make("exec", {
  description: "Start an allowed program in the background; returns at once with a job id. No shell: give argv " +
    "(e.g. [\"make\", \"build\"]). When it finishes, its exit code and output arrive as a system event for " +
    "the chat of the current message.",
  parameters: Schema.Struct({
    command: Schema.Union([Schema.Array(Schema.String), Schema.String]).annotate({
      description: "argv: program and arguments"
    })
  }),
  success: Schema.Struct({ jobId: Schema.String, argv: Schema.Array(Schema.String), note: Schema.String }),
  failure: ToolFailed,
  failureMode: "return"
})

export const AgentToolkit = Toolkit.make(Notify, Ask, Exec)

const counted = <A, E, R>(tool: string, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.tap(() => Metric.update(Metric.withAttributes(toolCalls, { tool, outcome: "ok" }), 1)),
    Effect.tapError((e) =>
      Metric.update(Metric.withAttributes(toolCalls, { tool, outcome: "failed" }), 1).pipe(
        Effect.andThen(Effect.logWarning(`tool ${tool} failed`).pipe(Effect.annotateLogs({ error: String(e) })))
      )
    )
  )

/** Handlers: each runs in the turn's fiber, so AgentTools reads the turn's CurrentRequest. */
export const AgentToolkitLive = AgentToolkit.toLayer(
  Effect.gen(function*() {
    const tools = yield* AgentTools
    return AgentToolkit.of({
      notify: (params) => counted("notify", tools.notify(params)),
      ask: (params) => counted("ask", tools.ask(params)),
      exec: (params) => counted("exec", tools.exec(params))
    })
  })
)
