// Telegram benchmarks: inbound update → reply sendMessage through the fake Bot API with the echo
// provider (in process, grammY's client over loopback HTTP), and the cost of rendering and
// chunking a 100 KB Markdown reply.
import { Duration, Effect, Layer, Redacted, References } from "effect"
import { core } from "../src/layers/Core.ts"
import { GatewayConfig } from "../src/config/GatewayConfig.ts"
import { Questions } from "../src/core/Questions.ts"
import { Session } from "../src/core/Session.ts"
import { chunkHtml } from "../src/channels/telegram/chunk.ts"
import { renderMarkdown } from "../src/channels/telegram/render.ts"
import { TelegramApi } from "../src/channels/telegram/TelegramApi.ts"
import { TelegramChannel } from "../src/channels/telegram/TelegramChannel.ts"
import { telegram } from "../src/channels/telegram/definition.ts"
import { startChannel } from "../src/layers/channels.ts"
import { fakeBotApi, textUpdate } from "../test/support/fakeBotApi.ts"
import { Store } from "../src/store/Store.ts"

export interface Figures {
  readonly [name: string]: number | string
}

export const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

export const round = (ms: number) => Math.round(ms * 100) / 100

/** Questions are not exercised here: a layer that has none open. */
export const noQuestions = Layer.succeed(Questions, Questions.of({
  ask: () => Effect.succeed({ _tag: "NoAnswer" }),
  answer: () => Effect.succeed(false),
  sourceOf: () => Effect.succeed(undefined),
  pendingFor: () => Effect.succeed(undefined),
  pending: Effect.succeed([])
}))

const roundTrips = (messages: number) =>
  Effect.gen(function*() {
    const fake = yield* fakeBotApi
    // A chat per message, so that per-chat pacing (about 1 message/s) does not enter the figure.
    const chats = Array.from({ length: messages }, (_, i) => 1000 + i)
    const config = GatewayConfig.test((s) => ({
      ...s,
      telegram: { ...s.telegram, allowedChatIds: chats.map(String), pollTimeout: Duration.seconds(5) }
    }))
    yield* Layer.build(
      startChannel({
        ...telegram,
        layer: TelegramChannel.layerWithApi.pipe(
          Layer.provide(Layer.effect(TelegramApi, TelegramApi.make(Redacted.make(fake.token), fake.url)))
        )
      }).pipe(
        Layer.provideMerge(core(Session.echo)),
        Layer.provideMerge(noQuestions),
        Layer.provideMerge(Store.memory),
        Layer.provideMerge(config)
      )
    )
    const latencies: Array<number> = []
    for (let i = 0; i < messages; i++) {
      const chat = chats[i]!
      const before = fake.callsOf("sendMessage", chat).length
      const t0 = performance.now()
      fake.push(textUpdate(chat, `m${i}`))
      yield* fake.waitFor(`reply ${i}`, () => fake.callsOf("sendMessage", chat).length > before)
      latencies.push(performance.now() - t0)
    }
    return latencies.sort((a, b) => a - b)
  }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn"))

/** A 100 KB agent reply: prose, lists, inline code, links and code blocks. */
const hundredKb = () => {
  const parts: Array<string> = []
  for (let n = 0; parts.join("\n\n").length < 100_000; n++) {
    parts.push(`### Section ${n}\nSome **bold** and *italic* text with \`code <x>\` and [a link](https://example.com/${n}) & more.`)
    parts.push(`- first point ${n}\n- second point with ~~strike~~`)
    parts.push("```ts\n" + Array.from({ length: 25 }, (_, i) => `const v${i} = a < b && c > d // ${n}`).join("\n") + "\n```")
  }
  return parts.join("\n\n")
}

export const runTelegram = async (): Promise<Figures> => {
  await Effect.runPromise(roundTrips(20)) // warm-up
  const latencies = await Effect.runPromise(roundTrips(300))

  const md = hundredKb()
  const times: Array<number> = []
  let chunks = 0
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now()
    chunks = chunkHtml(renderMarkdown(md)).length
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return {
    "update → reply sendMessage (echo, fake Bot API): p50 ms": round(percentile(latencies, 50)),
    "update → reply sendMessage (echo, fake Bot API): p99 ms": round(percentile(latencies, 99)),
    "render + chunk a 100 KB reply: p50 ms": round(percentile(times, 50)),
    "render + chunk a 100 KB reply: max ms": round(times.at(-1)!),
    "chunks for 100 KB": chunks
  }
}

// `node bench/telegram.ts` runs it alone.
if (import.meta.main) console.table(await runTelegram())
