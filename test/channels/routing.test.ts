// Cross-channel routing under interleaving, every channel at once (ADR-0123: "MCQ calls from
// Discord falling through to the terminal handler, responses routing to the wrong channel").
// Telegram, Discord, Slack, HTTP and CLI messages arrive while another chat's turn runs; every turn
// calls notify and ask after the next message has arrived; every reply, notification and question
// (with its buttons, or its numbered list) must land in the chat its message came from and in no
// other. A "current source" kept anywhere but in the turn's own request (e.g. the last message to
// arrive) sends them to the newcomer's chat, and this test fails.
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Layer, PubSub } from "effect"
import { AgentTools } from "../../src/agent/AgentTools.ts"
import { discord } from "../../src/channels/discord/definition.ts"
import { DiscordChannel } from "../../src/channels/discord/DiscordChannel.ts"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { CommandQueue } from "../../src/core/CommandQueue.ts"
import { Intake } from "../../src/core/Intake.ts"
import { Questions } from "../../src/core/Questions.ts"
import { Session } from "../../src/core/Session.ts"
import { TurnEvents } from "../../src/core/TurnEvents.ts"
import { core, Foundation } from "../../src/layers/Core.ts"
import { startChannel } from "../../src/layers/channels.ts"
import { Store } from "../../src/store/Store.ts"
import { fakeDiscordApi, discordSettings } from "../support/discordHarness.ts"
import { fakeBotApi, textUpdate } from "../support/fakeBotApi.ts"
import { fakeDiscord } from "../support/fakeDiscord.ts"
import { fakeSlack } from "../support/fakeSlack.ts"
import { slackOver, slackSettings } from "../support/slackHarness.ts"
import { eventually, fakeApiLayer, telegramOver, telegramSettings } from "../support/telegramHarness.ts"

/** One marker per message; every text a turn sends carries its message's marker. */
const CHATS = [
  "telegram:111",
  "discord:100",
  "slack:C111",
  "http:alice",
  "cli:ann",
  "telegram:222",
  "discord:101",
  "slack:C222",
  "http:bob",
  "cli:ben"
] as const
const markerOf = (i: number) => `M${String(i).padStart(2, "0")}X`

/** The turn's steps, one pair of signals per marker: the turn started / the test lets it go on. */
class Script extends Context.Service<Script, {
  readonly started: (marker: string) => Deferred.Deferred<void>
  readonly proceed: (marker: string) => Deferred.Deferred<void>
}>()("test/Script") {
  static readonly layer = Layer.sync(Script, () => {
    const signals = new Map<string, Deferred.Deferred<void>>()
    const signal = (key: string) => {
      let d = signals.get(key)
      if (d === undefined) signals.set(key, (d = Deferred.makeUnsafe<void>()))
      return d
    }
    return Script.of({ started: (m) => signal(`started ${m}`), proceed: (m) => signal(`proceed ${m}`) })
  })
}

/** Each turn: say it started, wait (the next chat's message arrives meanwhile), notify, ask, reply. */
const routingSession = Layer.effect(
  Session,
  Effect.gen(function*() {
    const tools = yield* AgentTools
    const script = yield* Script
    return Session.of({
      prompt: (request) =>
        Effect.gen(function*() {
          const marker = request.text.trim()
          yield* Deferred.succeed(script.started(marker), undefined)
          yield* Deferred.await(script.proceed(marker))
          // A tool that fails (e.g. a question already open where it was misrouted) must not hide where
          // the others went: the turn goes on, and the assertions say what landed where.
          yield* Effect.ignore(tools.notify({ text: `note ${marker}` }))
          yield* Effect.ignore(tools.ask({ question: `pick ${marker}`, options: [`yes ${marker}`, "no"] }))
          return { text: `reply ${marker}` }
        }),
      reset: Effect.void,
      info: Effect.succeed({ provider: "test", model: "routing" })
    })
  })
)

describe("cross-channel routing", () => {
  it.live("messages from every channel arrive during each other's turns: each reply, notification and question lands in its own chat only", () =>
    Effect.gen(function*() {
      const tg = yield* fakeBotApi
      const dc = yield* fakeDiscord
      const sl = yield* fakeSlack
      const settings = (s: Parameters<ReturnType<typeof telegramSettings>>[0]) => ({
        ...discordSettings(dc)(slackSettings(sl)(telegramSettings(tg)(s))),
        turn: { ...s.turn, shutdownGrace: Duration.zero }
      })
      // Questions as the daemon has them, with a short wait: nobody answers here.
      const questions = Layer.effect(Questions, Questions.make({ timeout: "200 millis" })).pipe(Layer.provide(Foundation))
      const graph = core(routingSession).pipe(
        Layer.provideMerge(questions),
        Layer.provideMerge(Script.layer),
        Layer.provideMerge(Store.memory),
        Layer.provideMerge(GatewayConfig.test(settings))
      )
      const channels = Layer.mergeAll(
        telegramOver(fakeApiLayer(tg)),
        startChannel({ ...discord, layer: DiscordChannel.layerWithApi.pipe(Layer.provide(fakeDiscordApi(dc))) }),
        slackOver(sl)
      )
      const ctx = yield* Layer.build(channels.pipe(Layer.provideMerge(graph)))
      const turnEvents = yield* Context.get(ctx, TurnEvents).subscribe
      const script = Context.get(ctx, Script)
      const intake = Context.get(ctx, Intake)
      const queue = Context.get(ctx, CommandQueue)
      yield* dc.waitFor("the Discord session", () => dc.gateway.stats.readies >= 1 && dc.gateway.connected())
      yield* sl.waitFor("the Slack connection", () => sl.connected())

      const send = (i: number) => {
        const [channel, peer] = CHATS[i]!.split(":") as [string, string]
        const text = markerOf(i)
        switch (channel) {
          case "telegram":
            return Effect.sync(() => tg.push(textUpdate(Number(peer), text)))
          case "discord":
            return Effect.sync(() => dc.say(peer, text))
          case "slack":
            return Effect.sync(() => sl.message(peer, text))
          default:
            return Effect.asVoid(intake.submit({ id: `${CHATS[i]}~${i}`, source: CHATS[i]!, text }))
        }
      }

      // Message i+1 (another chat, mostly another channel) is in the queue before turn i calls its tools.
      yield* send(0)
      for (let i = 0; i < CHATS.length; i++) {
        yield* Deferred.await(script.started(markerOf(i))).pipe(Effect.timeout("10 seconds"))
        if (i + 1 < CHATS.length) {
          yield* send(i + 1)
          yield* eventually(`${markerOf(i + 1)} queued during ${markerOf(i)}'s turn`, Effect.map(queue.stats, (s) => s.depth === 1))
        }
        yield* Deferred.succeed(script.proceed(markerOf(i)), undefined)
      }

      // Everything each chat was sent, as the person there (or their client) sees it.
      const inbox = Context.get(ctx, Inbox)
      const sent = Effect.gen(function*() {
        const out: Array<{ chat: string; blob: string }> = []
        for (const c of tg.calls) {
          if (/^(sendMessage|editMessage\w*)$/.test(c.method)) out.push({ chat: `telegram:${c.payload["chat_id"]}`, blob: JSON.stringify(c.payload) })
        }
        for (const c of dc.calls) {
          const m = /^\/channels\/(\d+)\/messages/.exec(c.path)
          if (m !== null && c.method !== "GET") out.push({ chat: `discord:${m[1]}`, blob: JSON.stringify(c.body) })
        }
        for (const c of sl.calls) {
          if (c.method.startsWith("chat.")) out.push({ chat: `slack:${c.payload["channel"]}`, blob: JSON.stringify(c.payload) })
        }
        for (const source of CHATS.filter((c) => c.startsWith("http:") || c.startsWith("cli:"))) {
          for (const m of (yield* inbox.read(source, 0, 0)).messages) out.push({ chat: source, blob: JSON.stringify(m) })
        }
        return out
      })
      // Every turn has finished (its reply handed to its channel's sender) …
      for (let finished = 0; finished < CHATS.length;) {
        const event = yield* PubSub.take(turnEvents).pipe(Effect.timeout("15 seconds"))
        if (event._tag === "TurnFinished") finished++
      }
      // … and the channels' sends are out (they are in flight to the fakes).
      const replied = (out: ReadonlyArray<{ blob: string }>) =>
        CHATS.every((_, i) => out.some((o) => o.blob.includes(`reply ${markerOf(i)}`)))
      yield* eventually("every reply sent somewhere", Effect.map(sent, replied), 15_000)
      const out = yield* sent

      const buttons: Record<string, RegExp> = {
        telegram: /"inline_keyboard"/,
        discord: /"components"/,
        slack: /"type":"button"/
      }
      CHATS.forEach((chat, i) => {
        const marker = markerOf(i)
        const where = [...new Set(out.filter((o) => o.blob.includes(marker)).map((o) => o.chat))]
        assert.deepStrictEqual(where, [chat], `${marker} (from ${chat}) reached ${where.join(", ")}`)
        const own = out.filter((o) => o.chat === chat).map((o) => o.blob)
        for (const text of [`note ${marker}`, `pick ${marker}`, `reply ${marker}`]) {
          assert.isTrue(own.some((b) => b.includes(text)), `${chat} never got "${text}"`)
        }
        const question = own.find((b) => b.includes(`pick ${marker}`))!
        const channel = chat.split(":")[0]!
        if (buttons[channel] !== undefined) {
          assert.match(question, buttons[channel], `${chat}'s question came without its buttons`)
          assert.include(question, `yes ${marker}`)
        } else {
          assert.include(question, `1. yes ${marker}`, `${chat}'s question came without its numbered list`)
        }
      })
    }), 60_000)
})
