// The real agent: a Session on a chat/completions model with tools. A turn is the system prompt,
// the remembered conversation and the new message behind a channel header; the tool loop runs
// (`LanguageModel.generateText` while the model asks for tools) up to a step limit. Tool handlers run in
// this fiber, so they see the turn's CurrentRequest. New messages are appended to Memory, even
// when the turn fails or is stopped; a history over the token budget is compacted first.
import { readFileSync } from "node:fs"
import { Cause, Effect, Exit, Layer, Metric, Option, Schema } from "effect"
import { type AiError, LanguageModel, Prompt } from "effect/ai"
import { RetryObserver } from "./model/endpoint.ts"
import { ChatModel } from "./model/ChatModel.ts"
import { compactionSplit, SUMMARISE_INSTRUCTIONS, transcript } from "./compaction.ts"
import { compactions } from "./metrics.ts"
import { DEFAULT_SYSTEM_PROMPT, userTurnText } from "./prompt.ts"
import { AgentToolkit, AgentToolkitLive } from "./toolkit.ts"
import { emptyReplyText, failureText, retryNoticeText } from "./userMessages.ts"
import { TurnFailed } from "../domain/errors.ts"
import { type Inbound, SILENT_TOKEN } from "../domain/model.ts"
import { parseSource } from "../domain/source.ts"

/** What memory keeps as the answer to a message the model did not answer in words, by how the turn ended. */
const unanswered = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isSuccess(exit)
    ? "(no reply: nothing to say)"
    : Cause.hasInterruptsOnly(exit.cause)
    ? "(no answer: the turn was stopped)"
    : "(no answer: this turn failed)"
import { Channels } from "../core/Channels.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Memory } from "./Memory.ts"
import { memoryLayer } from "./sharedMemory.ts"
import { Router } from "../core/Router.ts"
import { Session } from "../core/Session.ts"

export class SystemPromptUnreadable extends Schema.TaggedError<SystemPromptUnreadable>()("SystemPromptUnreadable", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `SWITCHBOARD_SYSTEM_PROMPT_FILE: cannot read ${this.file} (${this.reason})`
  }
}

export const loadSystemPrompt = (file: Option.Option<string>) =>
  Option.match(file, {
    onNone: () => Effect.succeed(DEFAULT_SYSTEM_PROMPT),
    onSome: (path) =>
      Effect.try({
        try: () => readFileSync(path, "utf8").trim(),
        catch: (e) => new SystemPromptUnreadable({ file: path, reason: e instanceof Error ? e.message : String(e) })
      })
  })

interface CompactionReport {
  readonly at: string
  readonly ok: boolean
  readonly detail: string
}

export interface SessionOptions {
  /** The tools the model is offered (default: all). */
  readonly tools?: ReadonlyArray<string> | undefined
}

export const makeWith = (options: SessionOptions = {}) => Effect.gen(function*() {
  const config = yield* GatewayConfig
  const chatModel = yield* ChatModel
  const memory = yield* Memory
  const channels = yield* Channels
  const router = yield* Router
  const allTools = yield* AgentToolkit
  // An agent offered fewer tools: the model sees only those (a call to another is an unknown tool).
  const toolkit: typeof allTools = options.tools === undefined ? allTools : {
    ...allTools,
    tools: Object.fromEntries(Object.entries(allTools.tools).filter(([name]) => options.tools!.includes(name))) as typeof allTools.tools
  }
  const systemPrompt = yield* loadSystemPrompt(config.model.systemPromptFile)
  const { maxSteps, tokenBudget, keepTurns } = config.model
  const state: { lastCompaction: CompactionReport | undefined; turns: number } = { lastCompaction: undefined, turns: 0 }

  const systemMessage = Prompt.makeMessage("system", { content: systemPrompt })
  const withModel = Effect.provideService(LanguageModel.LanguageModel, chatModel.languageModel)

  /** Older turns → one summary message. A failure keeps the history as it is and is reported. */
  const compactIfNeeded = Effect.gen(function*() {
    const tokens = yield* memory.estimatedTokens
    if (tokens <= tokenBudget) return
    const history = yield* memory.load
    const split = compactionSplit(history, keepTurns)
    if (split === 0) return
    yield* compact(history, split, tokens)
  })

  // A span only when it runs: a turn's trace shows compaction when there was one.
  const compact = (history: ReadonlyArray<Prompt.Message>, split: number, tokens: number) => Effect.gen(function*() {
    const older = history.slice(0, split)
    const result = yield* LanguageModel.generateText({
      prompt: Prompt.make([
        { role: "system", content: SUMMARISE_INSTRUCTIONS },
        { role: "user", content: transcript(older) }
      ])
    }).pipe(withModel, Effect.result)
    const at = new Date().toISOString()
    if (result._tag === "Failure" || result.success.text.trim() === "") {
      const detail = result._tag === "Failure" ? result.failure.message : "the model returned an empty summary"
      state.lastCompaction = { at, ok: false, detail }
      yield* Metric.update(Metric.withAttributes(compactions, { outcome: "failed" }), 1)
      yield* Effect.logWarning("compaction failed; keeping the full history").pipe(
        Effect.annotateLogs({ error: detail, estimatedTokens: tokens })
      )
      return
    }
    yield* memory.compact(result.success.text.trim(), split)
    state.lastCompaction = { at, ok: true, detail: `summarised ${split} messages (~${tokens} tokens before)` }
    yield* Metric.update(Metric.withAttributes(compactions, { outcome: "ok" }), 1)
    yield* Effect.logInfo("conversation compacted").pipe(
      Effect.annotateLogs({ replaced: split, estimatedTokensBefore: tokens })
    )
  }).pipe(Effect.withSpan("agent.compact"))

  const prompt = (request: Inbound) =>
    Effect.gen(function*() {
      state.turns++
      yield* compactIfNeeded
      const history = yield* memory.load
      // fromMessages: the remembered messages are already decoded; Prompt.make would decode them again.
      // The turn's conversation so far, grown by each step (what effect/ai's Chat does, without its
      // semaphore and span: one turn runs at a time, and its trace shows each model call).
      const conversation = { prompt: Prompt.fromMessages([systemMessage, ...history]) }
      const base = 1 + history.length
      const step = (input: string | ReadonlyArray<never>) =>
        Effect.gen(function*() {
          const prompt = Prompt.concat(conversation.prompt, input)
          const response = yield* LanguageModel.generateText({ prompt, toolkit, concurrency: 1 })
          conversation.prompt = Prompt.concat(prompt, Prompt.fromResponseParts(response.content))
          return response
        })
      const retries = { count: 0, told: false }
      const channel = parseSource(request.source)?.channel
      const userText = userTurnText(request, channel === undefined ? undefined : yield* channels.traitsOf(channel))

      // Tell the person once per turn that we are waiting on the model (they would see nothing else).
      const observer = (notice: { readonly delayMs: number; readonly error: AiError.AiError }) =>
        Effect.gen(function*() {
          retries.count++
          if (retries.told) return
          retries.told = true
          yield* router.deliver(request.source, { kind: "notify", text: retryNoticeText(notice.error, notice.delayMs), requestId: request.id })
            .pipe(Effect.ignore)
        })

      const persist = (exit: Exit.Exit<unknown, unknown>) => Effect.gen(function*() {
        const all = conversation.prompt.content
        const added = all.slice(base)
        // A failed first step leaves no trace in the conversation: remember at least what the person said,
        // and that it went unanswered, so user and assistant still alternate (strict chat templates,
        // e.g. Mistral or Gemma on llama.cpp, refuse two user messages in a row).
        const saved = added.length > 0 ? added : [Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text: userText })] })]
        yield* memory.append(
          saved.at(-1)?.role === "user"
            ? [...saved, Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text: unanswered(exit) })] })]
            : saved
        )
      })

      const loop = Effect.gen(function*() {
        let response = yield* step(userText)
        let steps = 1
        while (response.finishReason === "tool-calls") {
          if (steps >= maxSteps) {
            return yield* new TurnFailed({
              reason: `step limit (${maxSteps}) reached`,
              userMessage: `I stopped after ${maxSteps} tool steps without finishing. Ask me to continue if you want me to go on.`
            })
          }
          steps++
          retries.count = 0 // "failed after N attempts" counts the attempts of the step that failed
          response = yield* step([])
        }
        yield* Effect.annotateCurrentSpan({ "switchboard.steps": steps, "gen_ai.response.finish_reason": response.finishReason })
        const text = response.text.trim()
        if (text !== "") return { text }
        // Nothing said: silence is the model's choice only when it stopped normally. A blocked or
        // cut-off reply is a failure the person must hear about.
        const empty = emptyReplyText(response.finishReason)
        if (empty === undefined) return { text: SILENT_TOKEN }
        return yield* new TurnFailed({ reason: `empty reply (finish reason ${response.finishReason})`, userMessage: empty })
      })

      return yield* loop.pipe(
        withModel,
        Effect.provideService(RetryObserver, observer),
        Effect.catchTag("AiError", (e) =>
          Effect.logWarning("model request failed").pipe(
            Effect.annotateLogs({ error: e.message, reason: e.reason._tag }),
            Effect.andThen(Effect.fail(new TurnFailed({ reason: e.message, userMessage: failureText(e, retries.count + 1) })))
          )),
        Effect.onExit((exit) => persist(exit))
      )
    })

  const reset = Effect.asVoid(memory.reset)

  const info = Effect.gen(function*() {
    const model = yield* chatModel.status
    const conversation = yield* memory.info
    return {
      provider: "openai",
      model: model.active === "fallback" && model.fallback !== null ? model.fallback : model.primary,
      fallback: model,
      conversation: { ...conversation, estimatedTokens: yield* memory.estimatedTokens, tokenBudget },
      lastCompaction: state.lastCompaction ?? null,
      turns: state.turns
    }
  })

  return Session.of({ prompt, reset, info })
})

export const make = makeWith()

export class AgentSession {
  /**
   * The Session, with its memory and tool handlers. Needs ChatModel (e.g. `ChatModel.layerNodeHttp`),
   * AgentTools and Router (from the core graph) and GatewayConfig.
   */
  static readonly layer = Layer.effect(Session, make).pipe(
    Layer.provide(Layer.mergeAll(memoryLayer, AgentToolkitLive))
  )
}
