// The agent's conversation on disk: one append-only JSON-lines file per conversation under
// `<stateDir>/conversations/`, and a `current` file naming the one in use, so a restart resumes
// it. Compaction appends a record (summary + how many messages it replaces) instead of rewriting;
// `/new` starts a new file and leaves the old one on disk. Lines that do not decode are skipped
// and logged: a damaged file never stops the agent.
import { randomUUID } from "node:crypto"
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { Prompt } from "effect/ai"
import { estimateTokens, SUMMARY_PREFIX } from "./compaction.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"

const MessageLine = Schema.Struct({ t: Schema.Literal("msg"), m: Schema.Unknown })
const CompactLine = Schema.Struct({
  t: Schema.Literal("compact"),
  summary: Schema.String,
  replaced: Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)),
  at: Schema.String
})
const Line = Schema.Union([MessageLine, CompactLine])

const decodeLine = Schema.decodeUnknownOption(Line)
const decodeMessage = Schema.decodeUnknownOption(Prompt.Message)
const encodeMessage = Schema.encodeSync(Prompt.Message)

export const summaryMessage = (summary: string): Prompt.Message =>
  Prompt.makeMessage("system", { content: `${SUMMARY_PREFIX}\n${summary}` })

export interface ConversationInfo {
  readonly id: string
  readonly file: string
  readonly messages: number
  readonly compactions: number
  readonly skippedLines: number
}

/** Replays a conversation file's lines; returns the messages and how many lines were unreadable. */
export const replay = (text: string) => {
  let messages: Array<Prompt.Message> = []
  let skipped = 0
  let compactions = 0
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch {
      skipped++
      continue
    }
    const line = decodeLine(json)
    if (Option.isNone(line)) {
      skipped++
      continue
    }
    if (line.value.t === "msg") {
      const m = decodeMessage(line.value.m)
      if (Option.isNone(m)) skipped++
      else messages.push(m.value)
    } else {
      compactions++
      messages = [summaryMessage(line.value.summary), ...messages.slice(line.value.replaced)]
    }
  }
  return { messages, skipped, compactions }
}

export class Memory extends Context.Service<Memory, {
  /** The current conversation's messages (compactions applied). */
  readonly load: Effect.Effect<ReadonlyArray<Prompt.Message>>
  readonly append: (messages: ReadonlyArray<Prompt.Message>) => Effect.Effect<void>
  /** Record that the first `replaced` messages are now `summary`. */
  readonly compact: (summary: string, replaced: number) => Effect.Effect<void>
  /** Start a new conversation file; returns its id. */
  readonly reset: Effect.Effect<string>
  readonly info: Effect.Effect<ConversationInfo>
  /** Estimated size of the conversation, kept up to date as it changes (cheap to read per turn). */
  readonly estimatedTokens: Effect.Effect<number>
}>()("switchboard/Memory") {
  static readonly make = (stateDir: string) =>
    Effect.gen(function*() {
      const dir = join(stateDir, "conversations")
      const pointer = join(dir, "current")
      const io = <A>(what: string, f: () => A) =>
        Effect.try({ try: f, catch: (e) => e }).pipe(
          Effect.tapError((e) => Effect.logError(`memory: could not ${what}`).pipe(Effect.annotateLogs({ error: String(e), dir }))),
          Effect.option
        )

      const newId = Effect.map(
        Clock.currentTimeMillis,
        (now) => `${new Date(now).toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 6)}`
      )

      yield* io("create the conversations directory", () => mkdirSync(dir, { recursive: true }))
      const existing = existsSync(pointer)
        ? Option.filter(
          yield* io("read the current conversation pointer", () => readFileSync(pointer, "utf8").trim()),
          (id) => /^[\w.-]+$/.test(id)
        )
        : Option.none<string>()
      const state = {
        id: Option.isSome(existing) ? existing.value : yield* newId,
        messages: [] as Array<Prompt.Message>,
        tokens: 0,
        compactions: 0,
        skipped: 0
      }
      const fileOf = (id: string) => join(dir, `${id}.jsonl`)
      if (Option.isSome(existing) && existsSync(fileOf(state.id))) {
        const text = yield* io("read the conversation", () => readFileSync(fileOf(state.id), "utf8"))
        if (Option.isSome(text)) {
          const replayed = replay(text.value)
          state.messages = replayed.messages
          state.tokens = estimateTokens(replayed.messages)
          state.compactions = replayed.compactions
          state.skipped = replayed.skipped
          // A crash mid-append leaves a last line without its newline; the next append would be
          // glued onto that fragment and lost with it. End the torn line first (it stays skipped).
          if (text.value.length > 0 && !text.value.endsWith("\n")) {
            yield* io("end a torn last line", () => appendFileSync(fileOf(state.id), "\n"))
          }
          if (replayed.skipped > 0) {
            yield* Effect.logWarning("memory: skipped unreadable conversation lines").pipe(
              Effect.annotateLogs({ file: fileOf(state.id), skipped: replayed.skipped })
            )
          }
        }
      }
      if (Option.isNone(existing)) yield* io("write the conversation pointer", () => writeFileSync(pointer, state.id))
      yield* Effect.logInfo("memory: conversation loaded").pipe(
        Effect.annotateLogs({ conversation: state.id, messages: state.messages.length })
      )

      const write = (lines: ReadonlyArray<unknown>) =>
        io("append to the conversation", () =>
          appendFileSync(fileOf(state.id), lines.map((l) => JSON.stringify(l) + "\n").join(""))).pipe(Effect.asVoid)

      const append = (messages: ReadonlyArray<Prompt.Message>) =>
        Effect.suspend(() => {
          if (messages.length === 0) return Effect.void
          state.messages.push(...messages)
          state.tokens += estimateTokens(messages)
          return write(messages.map((m) => ({ t: "msg", m: encodeMessage(m) })))
        })

      const compact = (summary: string, replaced: number) =>
        Effect.gen(function*() {
          const at = new Date(yield* Clock.currentTimeMillis).toISOString()
          state.messages = [summaryMessage(summary), ...state.messages.slice(replaced)]
          state.tokens = estimateTokens(state.messages)
          state.compactions++
          yield* write([{ t: "compact", summary, replaced, at }])
        })

      const reset = Effect.gen(function*() {
        const previous = state.id
        state.id = yield* newId
        state.messages = []
        state.tokens = 0
        state.compactions = 0
        state.skipped = 0
        yield* io("write the conversation pointer", () => writeFileSync(pointer, state.id))
        yield* Effect.logInfo("memory: new conversation").pipe(Effect.annotateLogs({ previous, conversation: state.id }))
        return state.id
      })

      return Memory.of({
        load: Effect.sync(() => [...state.messages]),
        append,
        compact,
        reset,
        estimatedTokens: Effect.sync(() => state.tokens),
        info: Effect.sync(() => ({
          id: state.id,
          file: fileOf(state.id),
          messages: state.messages.length,
          compactions: state.compactions,
          skippedLines: state.skipped
        }))
      })
    })

  static readonly layer = Layer.effect(
    Memory,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      return yield* Memory.make(config.stateDir)
    })
  )
}
