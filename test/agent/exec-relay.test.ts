// exec end to end in-process, with the real SystemEvents, HeartbeatWake and HeartbeatRunner, composed
// the way the daemon should compose the agent (src/agent/composition.ts): a turn from http:alice starts
// a program; http:bob talks meanwhile; the completion is relayed to alice's inbox, never to bob.
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { agentServices } from "../../src/agent/composition.ts"
import { ChatModel } from "../../src/agent/model/ChatModel.ts"
import { core, Foundation } from "../../src/layers/Core.ts"
import { AgentSession } from "../../src/agent/AgentSession.ts"
import { ExecJobs } from "../../src/agent/exec/ExecJobs.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { HeartbeatRunner } from "../../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../src/heartbeat/HeartbeatWake.ts"
import { Status } from "../../src/core/Status.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { converse, eventually, inbox, tempStateDir } from "../support/agentDriver.ts"
import { agentSettings } from "../support/agentHarness.ts"
import { fakeChatCompletions } from "../support/fakeChatCompletions.ts"
import { Store } from "../../src/store/Store.ts"

describe("exec end to end (in-process, real heartbeat)", () => {
  it.live("the completion is relayed to the chat that started the job, not to one that talked meanwhile", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      const node = process.execPath
      fake.setDefault((r) => {
        const user = r.messages.filter((m) => m.role === "user").at(-1)?.content ?? ""
        const afterTool = r.messages.at(-1)?.role === "tool"
        if (user.includes("exec finished")) {
          const tail = /exec finished \(exit (\d+)\): (\w+)/.exec(user)
          return { text: `Build done (exit ${tail?.[1]}): ${tail?.[2]}` }
        }
        if (user.includes("chat: http:alice") && !afterTool) {
          return { toolCalls: [{ name: "exec", args: { command: [node, "-e", "setTimeout(() => console.log('built'), 500)"] } }] }
        }
        return { text: user.includes("chat: http:bob") ? "hi bob" : "started the build" }
      })
      const config = GatewayConfig.test(agentSettings(fake.url, dir, (s) => ({
        ...s,
        exec: { ...s.exec, allow: [node], force: [node], approval: "never" },
        heartbeat: { ...s.heartbeat, every: Duration.hours(1), coalesce: Duration.millis(20) }
      })))
      const session = AgentSession.layer.pipe(Layer.provide(ChatModel.layerNodeHttp))
      const graph = Layer.mergeAll(HeartbeatRunner.layer, ExecJobs.status).pipe(
        Layer.provideMerge(core(session)),
        Layer.provideMerge(agentServices.pipe(Layer.provide(Foundation))),
        Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
        Layer.provideMerge(Store.memory),
        Layer.provideMerge(config)
      )
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* converse("http:alice", "build please")).reply, "started the build")
        assert.strictEqual((yield* converse("http:bob", "hello")).reply, "hi bob")
        const relayed = yield* eventually(
          Effect.map(inbox("http:alice"), (ms) => ms.find((m) => m.text.startsWith("Build done")))
        )
        assert.strictEqual(relayed.text, "Build done (exit 0): built")
        assert.deepStrictEqual((yield* inbox("http:bob")).map((m) => m.text), ["hi bob"])
        const snapshot = yield* (yield* Status).snapshot
        const jobs = snapshot["jobs"] as { recent: ReadonlyArray<{ sessionKey: string; state: string }> }
        assert.deepStrictEqual(jobs.recent.map((j) => [j.sessionKey, j.state]), [["http:alice", "exited"]])
      }).pipe(Effect.provide(graph))
    }))
})
