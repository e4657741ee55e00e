// Memory on SharedConversations (cluster mode): the same lines and replay as a conversation file,
// kept in Postgres. Before each use it checks the session's head (one small query) and reads the
// conversation again when another daemon wrote to it since — the session ran there meanwhile. The
// session's entity runs on one daemon at a time, so nobody writes between that check and an append.
import { Clock, Effect, Layer, Option, Schema } from "effect"
import { Prompt } from "effect/ai"
import { estimateTokens } from "./compaction.ts"
import { closeHistory, noRepairs, pushRepaired, repairCount } from "./historyRepair.ts"
import { Memory, newConversationId, replay, summaryMessage } from "./Memory.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { SharedConversations } from "../core/SharedConversations.ts"
import { Persistence } from "../store/Persistence.ts"

const encodeMessage = Schema.encodeSync(Prompt.Message)

export const makeSharedMemory = (store: SharedConversations["Service"], session: string) =>
  Effect.gen(function*() {
    const newId = newConversationId
    const state = {
      id: "",
      seq: -1,
      messages: [] as Array<Prompt.Message>,
      tokens: 0,
      compactions: 0,
      skipped: 0,
      repaired: 0,
      writeFailing: false
    }

    const refresh = Effect.gen(function*() {
      const head = yield* store.head(session)
      if (head === undefined) {
        state.id = yield* newId
        yield* store.start(session, state.id)
        Object.assign(state, { seq: 0, messages: [], tokens: 0, compactions: 0, skipped: 0, repaired: 0 })
        return
      }
      if (head.conversation === state.id && head.seq === state.seq) return
      const read = yield* store.lines(session, head.conversation)
      const replayed = replay(read.lines.join("\n"))
      Object.assign(state, {
        id: head.conversation,
        seq: read.seq,
        messages: replayed.messages,
        tokens: estimateTokens(replayed.messages),
        compactions: replayed.compactions,
        skipped: replayed.skipped,
        repaired: repairCount(replayed.repairs)
      })
    })

    const write = (lines: ReadonlyArray<unknown>) =>
      store.append(session, state.id, lines.map((l) => JSON.stringify(l))).pipe(
        Effect.tap((seq) => Effect.sync(() => {
          state.seq = seq
          state.writeFailing = false
        })),
        Effect.catchCause((cause) =>
          Effect.logError("memory: could not append to the shared conversation", cause).pipe(
            Effect.andThen(Effect.sync(() => (state.writeFailing = true)))
          )
        ),
        Effect.asVoid
      )

    yield* refresh
    yield* Effect.logInfo("memory: shared conversation loaded").pipe(
      Effect.annotateLogs({ session, conversation: state.id, messages: state.messages.length })
    )

    return {
      load: Effect.andThen(refresh, Effect.sync(() => closeHistory(state.messages))),
      append: (messages: ReadonlyArray<Prompt.Message>) =>
        Effect.suspend(() => {
          if (messages.length === 0) return Effect.void
          const counts = noRepairs()
          for (const m of messages) pushRepaired(state.messages, m, counts)
          state.tokens = estimateTokens(state.messages)
          return write(messages.map((m) => ({ t: "msg", m: encodeMessage(m) })))
        }),
      compact: (summary: string, replaced: number) =>
        Effect.gen(function*() {
          const at = new Date(yield* Clock.currentTimeMillis).toISOString()
          state.messages = [summaryMessage(summary), ...state.messages.slice(replaced)]
          state.tokens = estimateTokens(state.messages)
          state.compactions++
          yield* write([{ t: "compact", summary, replaced, at }])
        }),
      reset: Effect.gen(function*() {
        const previous = state.id
        state.id = yield* newId
        yield* store.start(session, state.id)
        Object.assign(state, { seq: 0, messages: [], tokens: 0, compactions: 0, skipped: 0, repaired: 0 })
        yield* Effect.logInfo("memory: new conversation").pipe(Effect.annotateLogs({ session, previous, conversation: state.id }))
        return state.id
      }),
      estimatedTokens: Effect.andThen(refresh, Effect.sync(() => state.tokens)),
      info: Effect.sync(() => ({
        id: state.id,
        file: `postgres:${session}/${state.id}`,
        messages: state.messages.length,
        compactions: state.compactions,
        skippedLines: state.skipped,
        repaired: state.repaired,
        writeFailing: state.writeFailing
      }))
    } satisfies Memory["Service"]
  })

/**
 * The one session's Memory (no agents file): the conversation file, or in a cluster the shared
 * conversation of `main/shared`. Needs GatewayConfig and Persistence.
 */
export const memoryLayer = Layer.effect(
  Memory,
  Effect.gen(function*() {
    const shared = yield* Effect.serviceOption(SharedConversations)
    if (Option.isSome(shared)) return yield* makeSharedMemory(shared.value, "main/shared")
    const config = yield* GatewayConfig
    return yield* Memory.make(config.stateDir, { sync: config.store.durability === "power" })
  })
).pipe(Layer.provide(Persistence.layer))
