// The agent's conversation on disk: one append-only JSON-lines file per conversation under
// `<stateDir>/conversations/`, and a `current` file naming the one in use, so a restart resumes
// it. Compaction appends a record (summary + how many messages it replaces) instead of rewriting;
// `/new` starts a new file and leaves the old one on disk. A crash can only tear the last line: it
// is cut off at the next start and logged (conversationFile.ts); other lines that do not decode are
// skipped and logged; a turn cut short is closed so the history stays acceptable to strict chat
// templates (historyRepair.ts). A damaged file never stops the agent. Write failures are reported
// to Persistence (/health warns) and never leave a fragment behind.
import { randomUUID } from "node:crypto"
import { existsSync, mkdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import { Prompt } from "effect/ai"
import { estimateTokens, messageChars, SUMMARY_PREFIX } from "./compaction.ts"
import { appendAll, openConversation, replaceFile, type TornLine } from "./conversationFile.ts"
import { closeHistory, noRepairs, pushRepaired, type RepairCounts, repairCount } from "./historyRepair.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Persistence } from "../store/Persistence.ts"
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

/** A new conversation's id: when it began, and a little randomness (a file name, or a Postgres key). */
export const newConversationId = Effect.map(
  Clock.currentTimeMillis,
  (now) => `${new Date(now).toISOString().replace(/[:.]/g, "-")}-${randomUUID().slice(0, 6)}`
)

export const summaryMessage = (summary: string): Prompt.Message =>
  Prompt.makeMessage("system", { content: `${SUMMARY_PREFIX}\n${summary}` })

export interface ConversationInfo {
  readonly id: string
  readonly file: string
  readonly messages: number
  readonly compactions: number
  readonly skippedLines: number
  /** Torn last lines cut off and turns closed at the last start (see historyRepair.ts). */
  readonly repaired: number
  /** The last append did not reach the disk (the turn is remembered until the next start only). */
  readonly writeFailing: boolean
}

export interface MemoryOptions {
  /** fsync every append (SWITCHBOARD_DURABILITY=power). */
  readonly sync?: boolean | undefined
  /** The conversations directory; default `<stateDir>/conversations` (a session's own: agent/sessionDir.ts). */
  readonly dir?: string | undefined
}

/**
 * Replays a conversation file's lines: the messages (folded through the same repairs as appends),
 * how many lines were unreadable, and what was repaired.
 */
export const replay = (text: string) => {
  let messages: Array<Prompt.Message> = []
  let skipped = 0
  let compactions = 0
  const repairs = noRepairs()
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
      else pushRepaired(messages, m.value, repairs)
    } else {
      compactions++
      messages = [summaryMessage(line.value.summary), ...messages.slice(line.value.replaced)]
    }
  }
  return { messages, skipped, compactions, repairs }
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
  static readonly make = (stateDir: string, options: MemoryOptions = {}) =>
    Effect.gen(function*() {
      const persistence = yield* Persistence
      const sync = options.sync === true
      const dir = options.dir ?? join(stateDir, "conversations")
      const pointer = join(dir, "current")
      const io = <A>(what: string, f: () => A) =>
        Effect.try({ try: f, catch: (e) => String(e) }).pipe(
          Effect.tapError((error) =>
            Effect.logError(`memory: could not ${what}`).pipe(
              Effect.annotateLogs({ error, dir }),
              Effect.andThen(persistence.failed("conversation", `could not ${what}: ${error}`))
            )
          ),
          Effect.option
        )

      const newId = newConversationId

      yield* io("create the conversations directory", () => mkdirSync(dir, { recursive: true, mode: 0o700 }))
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
        skipped: 0,
        repaired: 0,
        /** Bytes of the file known to be whole lines: an append starts there. */
        bytes: 0,
        writeFailing: false
      }
      const fileOf = (id: string) => join(dir, `${id}.jsonl`)
      if (Option.isSome(existing) && existsSync(fileOf(state.id))) {
        const opened = yield* io("read the conversation", () => openConversation(fileOf(state.id)))
        if (Option.isSome(opened)) {
          const replayed = replay(opened.value.text)
          state.messages = replayed.messages
          state.tokens = estimateTokens(replayed.messages)
          state.compactions = replayed.compactions
          state.skipped = replayed.skipped
          state.bytes = Buffer.byteLength(opened.value.text)
          state.repaired = repairCount(replayed.repairs) + (opened.value.torn === undefined ? 0 : 1)
          yield* logRecovery(fileOf(state.id), opened.value.torn, replayed.skipped, replayed.repairs)
        }
      }
      if (Option.isNone(existing)) {
        yield* io("write the conversation pointer", () => replaceFile(pointer, state.id, sync))
      }
      yield* Effect.logInfo("memory: conversation loaded").pipe(
        Effect.annotateLogs({ conversation: state.id, messages: state.messages.length })
      )

      // Each message's size is measured once: the estimate is re-summed after every append (a repair
      // may rewrite the last step), and JSON-encoding the whole history per turn cost ~2 ms at 1,000 turns.
      const sizes = new WeakMap<Prompt.Message, number>()
      const charsOf = (m: Prompt.Message) => {
        let n = sizes.get(m)
        if (n === undefined) sizes.set(m, n = messageChars(m))
        return n
      }

      const write = (lines: ReadonlyArray<unknown>) =>
        Effect.gen(function*() {
          const data = lines.map((l) => JSON.stringify(l) + "\n").join("")
          const written = yield* io("append to the conversation", () => appendAll(fileOf(state.id), state.bytes, data, sync))
          state.writeFailing = Option.isNone(written)
          if (Option.isSome(written)) {
            state.bytes = written.value
            yield* persistence.succeeded("conversation")
          }
        })

      const append = (messages: ReadonlyArray<Prompt.Message>) =>
        Effect.suspend(() => {
          if (messages.length === 0) return Effect.void
          const counts = noRepairs()
          for (const m of messages) pushRepaired(state.messages, m, counts)
          state.tokens = estimateTokens(state.messages, charsOf)
          return write(messages.map((m) => ({ t: "msg", m: encodeMessage(m) })))
        })

      const compact = (summary: string, replaced: number) =>
        Effect.gen(function*() {
          const at = new Date(yield* Clock.currentTimeMillis).toISOString()
          state.messages = [summaryMessage(summary), ...state.messages.slice(replaced)]
          state.tokens = estimateTokens(state.messages, charsOf)
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
        state.repaired = 0
        state.bytes = 0
        yield* io("write the conversation pointer", () => replaceFile(pointer, state.id, sync))
        yield* Effect.logInfo("memory: new conversation").pipe(Effect.annotateLogs({ previous, conversation: state.id }))
        return state.id
      })

      return Memory.of({
        load: Effect.sync(() => closeHistory(state.messages)),
        append,
        compact,
        reset,
        estimatedTokens: Effect.sync(() => state.tokens),
        info: Effect.sync(() => ({
          id: state.id,
          file: fileOf(state.id),
          messages: state.messages.length,
          compactions: state.compactions,
          skippedLines: state.skipped,
          repaired: state.repaired,
          writeFailing: state.writeFailing
        }))
      })
    })

  /** Needs GatewayConfig. Persistence is shared (layers memoize): /health reads the same one. */
  static readonly layer = Layer.effect(
    Memory,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      return yield* Memory.make(config.stateDir, { sync: config.store.durability === "power" })
    })
  ).pipe(Layer.provide(Persistence.layer))
}

/** One warning per kind of damage found at the start, saying what was dropped or changed. */
const logRecovery = (file: string, torn: TornLine | undefined, skipped: number, repairs: RepairCounts) =>
  Effect.gen(function*() {
    if (torn !== undefined) {
      yield* Effect.logWarning(
        `memory: dropped a torn last line (line ${torn.line}, ${torn.bytes} bytes, ${torn.what}) left by a crash during a write`
      ).pipe(Effect.annotateLogs({ file, line: torn.line, bytes: torn.bytes }))
    }
    if (skipped > 0) {
      yield* Effect.logWarning(`memory: skipped ${skipped} unreadable conversation line(s)`).pipe(
        Effect.annotateLogs({ file, skipped })
      )
    }
    if (repairCount(repairs) > 0) {
      yield* Effect.logWarning(
        `memory: closed turns cut short: ${repairs.placeholders} missing repl(ies) marked as interrupted, ` +
          `${repairs.strippedCalls} tool call(s) without a result removed, ${repairs.orphanResults} stray tool result(s) dropped`
      ).pipe(Effect.annotateLogs({ file, ...repairs }))
    }
  })
