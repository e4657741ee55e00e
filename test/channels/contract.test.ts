// The channel contract (src/channels/Channel.ts) as a new channel's author meets it: one definition,
// started the way src/layers/channels.ts starts the listed ones. Its webhook route is served on the
// daemon's server while it runs, its traits reach the model's header, replies go to its own sender,
// /status shows its life; a channel its settings turn off is not started.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schema, Scope } from "effect"
import { HttpServer } from "effect/http"
import type { ChannelDefinition } from "../../src/channels/Channel.ts"
import { jsonBody } from "../../src/channels/http/api.ts"
import { ChannelRoutes } from "../../src/channels/http/ChannelRoutes.ts"
import { CoreRoutes } from "../../src/channels/http/coreRoutes.ts"
import { ChannelLife, Channels } from "../../src/core/Channels.ts"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Router } from "../../src/core/Router.ts"
import { Status } from "../../src/core/Status.ts"
import { serveHttp } from "../../src/layers/HttpServer.ts"
import { startChannel, startChannels } from "../../src/layers/channels.ts"
import { agentCore } from "../support/agentCore.ts"
import { tempStateDir } from "../support/agentDriver.ts"
import { agentSettings } from "../support/agentHarness.ts"
import { fakeChatCompletions } from "../support/fakeChatCompletions.ts"

/** A channel of carrier pigeons: notes come in over a webhook, replies are tied to a leg. */
const pigeonChannel = (sent: Array<string>, enabled = true): ChannelDefinition<Router | Intake | ChannelRoutes | ChannelLife> => ({
  name: "pigeon",
  traits: { renders: "short handwritten notes", maxChars: 140, buttons: false },
  enabled: () => enabled,
  layer: Layer.effectDiscard(Effect.gen(function*() {
    const router = yield* Router
    const intake = yield* Intake
    yield* router.register({ channel: "pigeon", send: (target, m) => Effect.sync(() => void sent.push(`${target} ${m.text}`)) })
    yield* (yield* ChannelRoutes).add(
      "POST",
      "/hooks/pigeon",
      Effect.gen(function*() {
        const note = yield* jsonBody(Schema.Struct({ id: Schema.String, loft: Schema.String, text: Schema.String }))
        yield* intake.submit({ id: `pigeon:${note.id}`, source: `pigeon:${note.loft}`, text: note.text }).pipe(Effect.orDie)
        return { status: 202, body: { ok: true } }
      }),
      { public: true }
    )
    yield* (yield* ChannelLife).up
  }))
})

const post = (base: string, path: string, body: unknown) =>
  Effect.promise(() =>
    fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(async (r) => ({ status: r.status, body: await r.json() as any }))
  )

describe("the channel contract", () => {
  it.live("one definition: its route takes notes in, its traits head the turn, replies reach its sender, /status shows it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.setDefault({ text: "coo" })
      const sent: Array<string> = []
      const graph = agentCore(agentSettings(fake.url, dir, (s) => ({ ...s, http: { ...s.http, port: 0 } })), { events: [], wakes: [] })
      const app = serveHttp(CoreRoutes).pipe(Layer.provideMerge(graph))
      yield* Effect.gen(function*() {
        const base = yield* HttpServer.addressFormattedWith((a) => Effect.succeed(a))
        assert.strictEqual((yield* post(base, "/hooks/pigeon", { id: "1", loft: "north", text: "hi" })).status, 404, "served before it started")

        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(startChannel(pigeonChannel(sent)), scope)
        const taken = yield* post(base, "/hooks/pigeon", { id: "1", loft: "north", text: "any news?" })
        assert.deepStrictEqual(taken, { status: 202, body: { ok: true } })
        const record = yield* (yield* RequestLog).await("pigeon:1", 10_000)
        assert.strictEqual(record?.status, "done", `the turn did not finish: ${record?.error}`)

        const user = fake.requests[0]!.messages.findLast((m) => m.role === "user")!.content ?? ""
        assert.include(user, "[channel: pigeon · chat: pigeon:north · renders: short handwritten notes (max 140 chars); ask shows a numbered list]")
        assert.deepStrictEqual(sent, ["pigeon:north coo"])
        const listed = ((yield* (yield* Status).snapshot)["channels"] as Record<string, { state: string }>)["pigeon"]
        assert.strictEqual(listed?.state, "up")

        yield* Scope.close(scope, Exit.void)
        assert.strictEqual((yield* post(base, "/hooks/pigeon", { id: "2", loft: "north", text: "hello?" })).status, 404, "served after it stopped")
        const stopped = ((yield* (yield* Status).snapshot)["channels"] as Record<string, { state: string }>)["pigeon"]
        assert.strictEqual(stopped?.state, "stopped")
      }).pipe(Effect.provide(app))
    }))

  it.live("a channel its settings turn off is not started: no sender, not listed", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      const graph = agentCore(agentSettings(fake.url, dir), { events: [], wakes: [] })
      yield* Effect.gen(function*() {
        const names = (yield* (yield* Channels).list).map((c) => c.name)
        assert.deepStrictEqual(names.sort(), ["cli", "http"])
        assert.deepStrictEqual((yield* (yield* Router).stats).channels, ["cli", "http"])
      }).pipe(Effect.provide(startChannels([pigeonChannel([], false)]).pipe(Layer.provideMerge(graph))))
    }))
})
