// The Telegram channel in the core graph, pointed at the fake Bot API: a scripted Session (slow
// turns behind gates, turns that call notify and ask), a small Questions layer, and the live
// grammY client. Used by test/channels/telegram/.
import { Context, Deferred, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import type { AskOutcome, PendingQuestion } from "../../src/core/Questions.ts"
import { Questions } from "../../src/core/Questions.ts"
import { core, Foundation } from "../../src/layers/Core.ts"
import type { Inbound } from "../../src/domain/model.ts"
import { AgentTools } from "../../src/agent/AgentTools.ts"
import { CurrentRequest } from "../../src/core/CurrentRequest.ts"
import { GatewayConfig, type GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { Router } from "../../src/core/Router.ts"
import { Session } from "../../src/core/Session.ts"
import { TelegramApi } from "../../src/channels/telegram/TelegramApi.ts"
import { TelegramChannel } from "../../src/channels/telegram/TelegramChannel.ts"
import { telegram } from "../../src/channels/telegram/definition.ts"
import { startChannel } from "../../src/layers/channels.ts"
import type { FakeBotApi } from "./fakeBotApi.ts"
import { Store } from "../../src/store/Store.ts"

/** Questions as the agent work defines them, reduced to what the channel relies on. */
export const testQuestions = Layer.effect(
  Questions,
  Effect.gen(function*() {
    const router = yield* Router
    const open = new Map<string, { pending: PendingQuestion; done: Deferred.Deferred<AskOutcome> }>()
    const counter = { n: 0 }
    const ask = (source: string, question: string, options: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const pending: PendingQuestion = { id: `q-${++counter.n}`, source, question, options, askedAt: 0 }
        const done = yield* Deferred.make<AskOutcome>()
        open.set(pending.id, { pending, done })
        const current = yield* CurrentRequest
        yield* router.deliver(source, { kind: "ask", text: question, requestId: current?.id, question: { id: pending.id, options } }, {
          explicit: current?.source !== source
        }).pipe(Effect.ignore)
        return yield* Deferred.await(done)
      }).pipe(Effect.ensuring(Effect.sync(() => open.clear())))
    return Questions.of({
      ask,
      answer: (id, answer) =>
        Effect.suspend(() => {
          const entry = open.get(id)
          if (entry === undefined) return Effect.succeed(false)
          open.delete(id)
          return Deferred.succeed(entry.done, { _tag: "Answered", answer })
        }),
      sourceOf: (id) => Effect.sync(() => open.get(id)?.pending.source),
      pendingFor: (source) => Effect.sync(() => [...open.values()].find((e) => e.pending.source === source)?.pending),
      pending: Effect.sync(() => [...open.values()].map((e) => e.pending))
    })
  })
)

/**
 * A Session whose turns follow the message text:
 * `slow:<gate>` waits for the gate, `notify:<text>` notifies, `ask:<q>|<a>|<b>` asks and replies with
 * the answer, `work` does all three, `long` replies with `longText`, anything else is echoed.
 */
export const scriptedSession = (options: { longText?: string } = {}) =>
  Layer.effect(
    Session,
    Effect.gen(function*() {
      const tools = yield* AgentTools
      const questions = yield* Questions
      const gates = yield* Gates
      const step = (request: Inbound): Effect.Effect<string> => {
        const text = request.text
        if (text.startsWith("slow:")) return Effect.as(gates.wait(text.slice(5)), `done ${text.slice(5)}`)
        if (text.startsWith("notify:")) return Effect.as(Effect.orDie(tools.notify({ text: text.slice(7) })), "NO_REPLY")
        if (text.startsWith("ask:")) {
          const [q, ...choices] = text.slice(4).split("|")
          return questions.ask(request.source, q!, choices).pipe(
            Effect.orDie,
            Effect.map((o) => (o._tag === "Answered" ? `you picked ${o.answer}` : "no answer"))
          )
        }
        if (text === "work") {
          return Effect.gen(function*() {
            yield* Effect.orDie(tools.notify({ text: "progress 1" }))
            yield* gates.wait("work")
            const o = yield* Effect.orDie(questions.ask(request.source, "Pick a colour", ["red", "green"]))
            yield* Effect.orDie(tools.notify({ text: `picked ${o._tag === "Answered" ? o.answer : "-"}` }))
            return "done work"
          })
        }
        if (text === "long") return Effect.succeed(options.longText ?? "")
        return Effect.succeed(`echo: ${text} [${request.source}]`)
      }
      return Session.of({
        prompt: (request) => Effect.map(step(request), (text) => ({ text })),
        reset: Effect.void,
        info: Effect.succeed({ provider: "test", model: "scripted" })
      })
    })
  )

/** Named gates shared by the test and the session. */
export class Gates extends Context.Service<Gates, {
  readonly wait: (name: string) => Effect.Effect<void>
  readonly open: (name: string) => Effect.Effect<void>
}>()("test/Gates") {
  static readonly layer = Layer.effect(
    Gates,
    Effect.sync(() => {
      const gates = new Map<string, Deferred.Deferred<void>>()
      const gate = (name: string) => {
        let g = gates.get(name)
        if (g === undefined) {
          g = Deferred.makeUnsafe<void>()
          gates.set(name, g)
        }
        return g
      }
      return Gates.of({
        wait: (name) => Deferred.await(gate(name)),
        open: (name) => Effect.asVoid(Deferred.succeed(gate(name), undefined))
      })
    })
  )
}

export const ALLOWED = ["111", "222", "-100500"]

export type Patch = (s: GatewaySettings) => GatewaySettings

/** Settings for tests: fast pacing, short polls, the allowed chats. */
export const telegramSettings = (fake: FakeBotApi | undefined, patch: Patch = (s) => s): Patch => (s) =>
  patch({
    ...s,
    telegram: {
      ...s.telegram,
      ...(fake ? { apiRoot: fake.url } : {}),
      allowedChatIds: ALLOWED,
      pollTimeout: Duration.seconds(2),
      paceInterval: Duration.millis(20),
      paceBurst: 3
    }
  })

/**
 * The core graph with a scripted session, test Questions and Gates. A turn still waiting on a gate
 * when a test ends is interrupted at once (no shutdown grace: it would never pass on the TestClock).
 */
export const testCore = (patch: Patch, options: { longText?: string } = {}) => {
  const questions = testQuestions.pipe(Layer.provide(Foundation))
  const noGrace: Patch = (s) => ({ ...s, turn: { ...s.turn, shutdownGrace: Duration.zero } })
  return core(scriptedSession(options)).pipe(
    Layer.provideMerge(questions),
    Layer.provideMerge(Gates.layer),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(GatewayConfig.test((s) => patch(noGrace(s))))
  )
}

/** The live grammY client against the fake. */
export const fakeApiLayer = (fake: FakeBotApi) =>
  Layer.effect(TelegramApi, TelegramApi.make(Redacted.make(fake.token), fake.url))

/** The Telegram channel over `api`, started as the daemon starts it (listed in Channels). */
export const telegramOver = <E>(api: Layer.Layer<TelegramApi, E>) =>
  startChannel({ ...telegram, layer: TelegramChannel.layerWithApi.pipe(Layer.provide(api)) })

/** The channel over the fake, with the core graph; built in the caller's scope. */
export const startTelegram = (fake: FakeBotApi, options: { patch?: Patch; longText?: string } = {}) =>
  Layer.build(
    telegramOver(fakeApiLayer(fake)).pipe(
      Layer.provideMerge(testCore(telegramSettings(fake, options.patch), options))
    )
  )

/** Poll `check` until it holds, for at most `timeoutMs` (for state the fake cannot signal). */
export const eventually = <E, R>(label: string, check: Effect.Effect<boolean, E, R>, timeoutMs = 5000) =>
  check.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ duration: Duration.millis(timeoutMs) }))),
    Effect.catch(() => Effect.die(new Error(`never happened: ${label}`)))
  )
