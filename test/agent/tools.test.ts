// ask and exec through the composed agent and its HTTP routes: a question round trip over HTTP,
// its timeout, one pending question per source; exec jobs reporting back to the session key that
// started them (and not to whoever talks meanwhile), refusals, timeouts, GET /v1/jobs.
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { AgentRoutes } from "../../src/channels/http/agentRoutes.ts"
import { CoreRoutes } from "../../src/channels/http/coreRoutes.ts"
import { ApiTokens } from "../../src/channels/http/ApiTokens.ts"
import { HttpLimits } from "../../src/channels/http/HttpLimits.ts"
import { ExecJobs } from "../../src/agent/exec/ExecJobs.ts"
import { Questions } from "../../src/core/Questions.ts"
import { agentCore } from "../support/agentCore.ts"
import { converse, eventually, finished, inbox, say, tempStateDir } from "../support/agentDriver.ts"
import { agentSettings, type Patch, type Recorded } from "../support/agentHarness.ts"
import { type FakeChatCompletions, fakeChatCompletions, type RecordedRequest } from "../support/fakeChatCompletions.ts"

const served = (fake: FakeChatCompletions, dir: string, patch: Patch, recorded: Recorded) =>
  HttpRouter.serve(Layer.mergeAll(AgentRoutes, CoreRoutes), { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(Layer.mergeAll(HttpLimits.layer, ApiTokens.layer)),
    Layer.provideMerge(agentCore(agentSettings(fake.url, dir, patch), recorded))
  )

const baseUrl = HttpServer.addressFormattedWith((a) => Effect.succeed(a))

const http = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const res = await fetch(url, init)
    const text = await res.text()
    return { status: res.status, body: text === "" ? undefined : JSON.parse(text) }
  })

const post = (url: string, body: unknown) =>
  http(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

const toolResults = (r: RecordedRequest) => r.messages.filter((m) => m.role === "tool").map((m) => m.content ?? "")
const newRecorded = (): Recorded => ({ events: [], wakes: [] })

describe("ask", () => {
  it.live("round trip over HTTP: numbered list in the inbox, POST /v1/answers/:id, answer back to the model", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "ask", args: { question: "Deploy now?", options: ["yes", "no"] } }] }, { text: "ok, not deploying" })
      yield* Effect.gen(function*() {
        const url = yield* baseUrl
        const accepted = yield* post(`${url}/v1/messages`, { text: "deploy?", source: "http:ops" })
        assert.strictEqual(accepted.status, 202)
        const asked = yield* eventually(
          Effect.map(http(`${url}/v1/inbox/http:ops`), (r) => r.body.messages.find((m: any) => m.kind === "ask"))
        )
        assert.strictEqual(asked.text, "Deploy now?\n1. yes\n2. no\nReply with a number or the option's text.")
        assert.deepStrictEqual(asked.question.options, ["yes", "no"])
        const answered = yield* post(`${url}/v1/answers/${asked.question.id}`, { answer: "2" })
        assert.deepStrictEqual(answered, { status: 200, body: { questionId: asked.question.id, answered: true } })
        const done = yield* http(`${url}/v1/messages/${accepted.body.id}?wait=10`)
        assert.strictEqual(done.body.reply, "ok, not deploying")
        assert.deepStrictEqual(JSON.parse(toolResults(fake.requests[1]!)[0]!), { answered: true, answer: "no", option: 2 })
        // Answered once: the id is gone.
        const again = yield* post(`${url}/v1/answers/${asked.question.id}`, { answer: "1" })
        assert.strictEqual(again.status, 404)
        assert.strictEqual(again.body.error.code, "not_found")
        const empty = yield* post(`${url}/v1/answers/${asked.question.id}`, { answer: "" })
        assert.strictEqual(empty.status, 400)
      }).pipe(Effect.provide(served(fake, dir, (s) => s, newRecorded())))
    }))

  it.live("no answer before the timeout: the model hears answered=false", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "ask", args: { question: "Sure?", options: ["y", "n"] } }] }, { text: "no answer, skipping" })
      const patch: Patch = (s) => ({ ...s, model: { ...s.model, askTimeout: Duration.millis(200) } })
      yield* Effect.gen(function*() {
        const record = yield* converse("http:ops", "go")
        assert.strictEqual(record.reply, "no answer, skipping")
        assert.deepStrictEqual(JSON.parse(toolResults(fake.requests[1]!)[0]!), {
          answered: false,
          reason: "no answer before the timeout"
        })
        assert.isUndefined(yield* (yield* Questions).pendingFor("http:ops"))
      }).pipe(Effect.provide(agentCore(agentSettings(fake.url, dir, patch), newRecorded())))
    }))

  it.live("a second question for a source is refused while one is pending", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "ask", args: { question: "Second?", options: ["a"] } }] }, { text: "one at a time" })
      yield* Effect.gen(function*() {
        const questions = yield* Questions
        const first = yield* Effect.forkChild(questions.ask("http:ops", "First?", ["x", "y"]))
        const pending = yield* eventually(questions.pendingFor("http:ops"))
        // An automation event (a person's message would answer the pending question instead).
        const record = yield* converse("http:ops", "ask me", "event")
        assert.strictEqual(record.reply, "one at a time")
        assert.include(toolResults(fake.requests[1]!)[0]!, "a question is already waiting for an answer in http:ops")
        // The first one is still answerable, by option text.
        assert.isTrue(yield* questions.answer(pending.id, "Y"))
        assert.deepStrictEqual(yield* Fiber.join(first), { _tag: "Answered", answer: "y", optionIndex: 1 })
      }).pipe(Effect.provide(agentCore(agentSettings(fake.url, dir), newRecorded())))
    }))
})

describe("exec", () => {
  const node = process.execPath
  // node is an interpreter (allowed only when forced); approval is tested in exec-approval.test.ts.
  const allowNode: Patch = (s) => ({ ...s, exec: { ...s.exec, allow: [node], force: [node], approval: "never" } })

  it.live("reports back to the session key that started it, not to whoever talks meanwhile", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      const recorded = newRecorded()
      fake.setDefault((r) => {
        const user = r.messages.filter((m) => m.role === "user").at(-1)?.content ?? ""
        if (user.includes("chat: http:alice") && r.messages.at(-1)?.role === "user") {
          return { toolCalls: [{ name: "exec", args: { command: [node, "-e", "setTimeout(() => console.log('built'), 400)"] } }] }
        }
        return { text: user.includes("chat: http:bob") ? "hi bob" : "started" }
      })
      yield* Effect.gen(function*() {
        const url = yield* baseUrl
        const alice = yield* converse("http:alice", "build it")
        assert.strictEqual(alice.reply, "started")
        assert.include(JSON.parse(toolResults(fake.requests[1]!)[0]!).note, "started job job-")
        const running = yield* http(`${url}/v1/jobs`)
        assert.strictEqual(running.body.jobs[0].state, "running")
        assert.strictEqual(running.body.jobs[0].sessionKey, "http:alice")
        // Bob talks while the job runs (his request is CurrentRequest when it finishes, if anyone's).
        const bob = yield* say("http:bob", "hello")
        yield* finished(bob)
        const event = yield* eventually(Effect.sync(() => recorded.events[0]))
        assert.strictEqual(event.sessionKey, "http:alice")
        assert.strictEqual(event.text, "exec finished (exit 0): built")
        assert.deepStrictEqual(recorded.wakes, [{ reason: "exec-event", sessionKey: "http:alice" }])
        assert.strictEqual(recorded.events.length, 1)
        const jobs = yield* http(`${url}/v1/jobs`)
        assert.strictEqual(jobs.body.jobs[0].state, "exited")
        assert.strictEqual(jobs.body.jobs[0].exitCode, 0)
        assert.deepStrictEqual((yield* inbox("http:bob")).map((m) => m.text), ["hi bob"])
      }).pipe(Effect.provide(served(fake, dir, allowNode, recorded)))
    }))

  it.live("refuses programs that are not allowed, and shell lines, with a clear tool error", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      const recorded = newRecorded()
      fake.script(
        { toolCalls: [{ name: "exec", args: { command: ["rm", "-rf", "/tmp/x"] } }, { name: "exec", args: { command: "sleep 1 && echo built" } }] },
        { text: "refused" }
      )
      yield* Effect.gen(function*() {
        yield* converse("http:alice", "do it")
        const [notAllowed, shell] = toolResults(fake.requests[1]!)
        assert.include(notAllowed, `exec rm: not an allowed program (allowed: ${node})`)
        assert.include(shell, "not a shell")
        assert.deepStrictEqual(yield* (yield* ExecJobs).list, [])
        assert.strictEqual(recorded.events.length, 0)
      }).pipe(Effect.provide(agentCore(agentSettings(fake.url, dir, allowNode), recorded)))
    }))

  it.live("exec is off when nothing is allowed", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      fake.script({ toolCalls: [{ name: "exec", args: { command: "ls" } }] }, { text: "off" })
      yield* converse("http:alice", "ls").pipe(Effect.provide(agentCore(agentSettings(fake.url, dir), newRecorded())))
      assert.include(toolResults(fake.requests[1]!)[0]!, "exec is off (SWITCHBOARD_EXEC_ALLOW is empty)")
    }))

  it.live("a job over its timeout is killed and reported as timed out, with its output tail", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      const dir = yield* tempStateDir
      const recorded = newRecorded()
      fake.script(
        { toolCalls: [{ name: "exec", args: { command: [node, "-e", "console.log('begun'); setTimeout(() => {}, 10000)"] } }] },
        { text: "started" }
      )
      const patch: Patch = (s) => allowNode({ ...s, exec: { ...s.exec, timeout: Duration.seconds(2) } })
      yield* Effect.gen(function*() {
        yield* converse("http:alice", "slow")
        const event = yield* eventually(Effect.sync(() => recorded.events[0]))
        assert.match(event.text, /^exec finished \(exit SIGTERM, timed out after 2s\): begun$/)
        assert.strictEqual((yield* (yield* ExecJobs).list)[0]!.state, "timed-out")
      }).pipe(Effect.provide(agentCore(agentSettings(fake.url, dir, patch), recorded)))
    }))
})
