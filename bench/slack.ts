// Slack benchmarks: a message event → reply chat.postMessage through the fake Slack with the echo
// provider (in process, @slack/socket-mode and @slack/web-api over loopback), and the cost of
// rendering and chunking a 100 KB Markdown reply as mrkdwn.
import { Duration, Effect, Layer, Option, Redacted, References } from "effect"
import { chunkMrkdwn } from "../src/channels/slack/chunk.ts"
import { slack } from "../src/channels/slack/definition.ts"
import { renderMrkdwn } from "../src/channels/slack/render.ts"
import { SlackApi } from "../src/channels/slack/SlackApi.ts"
import { SlackChannel } from "../src/channels/slack/SlackChannel.ts"
import { GatewayConfig } from "../src/config/GatewayConfig.ts"
import { Store } from "../src/store/Store.ts"
import { Session } from "../src/core/Session.ts"
import { startChannel } from "../src/layers/channels.ts"
import { core } from "../src/layers/Core.ts"
import { fakeSlack } from "../test/support/fakeSlack.ts"
import { longSlackReply } from "../test/support/longReply.ts"
import { type Figures, noQuestions, percentile, round } from "./telegram.ts"

const roundTrips = (messages: number) =>
  Effect.gen(function*() {
    const fake = yield* fakeSlack
    const config = GatewayConfig.test((s) => ({
      ...s,
      slack: {
        ...s.slack,
        botToken: Option.some(Redacted.make(fake.botToken)),
        appToken: Option.some(Redacted.make(fake.appToken)),
        apiRoot: fake.apiRoot,
        allowedChannelIds: ["C111"],
        connectTimeout: Duration.seconds(10)
      }
    }))
    yield* Layer.build(
      startChannel({
        ...slack,
        layer: SlackChannel.layerWithApi.pipe(
          Layer.provide(Layer.effect(SlackApi, SlackApi.make(Redacted.make(fake.botToken), fake.apiRoot)))
        )
      }).pipe(Layer.provideMerge(core(Session.echo)), Layer.provideMerge(noQuestions), Layer.provideMerge(Store.memory), Layer.provideMerge(config))
    )
    yield* fake.waitFor("connected", fake.connected, 10_000)
    const latencies: Array<number> = []
    for (let i = 0; i < messages; i++) {
      const before = fake.callsOf("chat.postMessage").length
      const t0 = performance.now()
      fake.message("C111", `m${i}`)
      yield* fake.waitFor(`reply ${i}`, () => fake.callsOf("chat.postMessage").length > before)
      latencies.push(performance.now() - t0)
    }
    return latencies.sort((a, b) => a - b)
  }).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn"))

export const runSlack = async (): Promise<Figures> => {
  await Effect.runPromise(roundTrips(20)) // warm-up
  const latencies = await Effect.runPromise(roundTrips(300))
  const md = longSlackReply(100_000)
  const times: Array<number> = []
  let chunks = 0
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now()
    chunks = chunkMrkdwn(renderMrkdwn(md)).length
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return {
    "event → reply chat.postMessage (echo, fake Slack): p50 ms": round(percentile(latencies, 50)),
    "event → reply chat.postMessage (echo, fake Slack): p99 ms": round(percentile(latencies, 99)),
    "render + chunk a 100 KB reply: p50 ms": round(percentile(times, 50)),
    "render + chunk a 100 KB reply: max ms": round(times.at(-1)!),
    "chunks for 100 KB": chunks
  }
}

// `node bench/slack.ts` runs it alone.
if (import.meta.main) console.table(await runSlack())
