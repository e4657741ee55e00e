// Regression tests from the adversarial review of the agent and Telegram work (issues 4 and 5).
// Each one failed against the code as reviewed; the comment above a test describes the bug it
// caught (in the past state of the code) and the test name says what a user observes now.
import { execFileSync } from "node:child_process"
import { appendFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Option, Scope } from "effect"
import { Prompt } from "effect/ai"
import { ChatModel } from "../src/agent/model/ChatModel.ts"
import { AgentTools } from "../src/agent/AgentTools.ts"
import { ExecJobs } from "../src/agent/exec/ExecJobs.ts"
import { GatewayConfig } from "../src/config/GatewayConfig.ts"
import { withCurrentRequest } from "../src/core/CurrentRequest.ts"
import { Memory } from "../src/agent/Memory.ts"
import type { Inbound } from "../src/domain/model.ts"
import { agentSettings, recordingHeartbeat, type Recorded, withFallback } from "./support/agentHarness.ts"
import { fakeBotApi } from "./support/fakeBotApi.ts"
import { fakeChatCompletions } from "./support/fakeChatCompletions.ts"
import { startTelegram } from "./support/telegramHarness.ts"

const request = (source: string): Inbound => ({
  id: `r-${source}`,
  source,
  text: "run it",
  priority: "human",
  receivedAt: Date.now()
})

/** Pids of live processes whose command line contains `marker` (ours only). */
const pidsWith = (marker: string): Array<number> => {
  try {
    return execFileSync("pgrep", ["-f", marker], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number)
  } catch {
    return [] // pgrep exits 1 when nothing matches
  }
}
const killAll = (marker: string) => {
  for (const pid of pidsWith(marker)) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
}

const execJobs = (options: Partial<Parameters<typeof ExecJobs.make>[0]> = {}) =>
  Effect.gen(function*() {
    const recorded: Recorded = { events: [], wakes: [] }
    const scope = yield* Scope.make()
    const jobs = yield* ExecJobs.make({
      allow: ["sh"],
      timeout: Duration.millis(300),
      outputCap: 65536,
      maxJobs: 4,
      ...options
    }).pipe(Effect.provide(recordingHeartbeat(recorded)), Scope.provide(scope))
    return { jobs, recorded, scope }
  })

describe("review: exec", () => {
  // ExecJobs.ts runProcess: the timeout kills only the direct child (child.kill), and the job ends
  // on "close", which waits for every holder of the stdout pipe. A program that starts children of
  // its own (sh, make, npm, git hooks, test runners) leaves them running with the pipe open: the
  // job stays "running" long past SWITCHBOARD_EXEC_TIMEOUT, keeps a SWITCHBOARD_EXEC_MAX_JOBS slot,
  // and the grandchildren live on.
  it.live("exec timeout ends a program that started children of its own (the job finishes, no orphans)", () => {
    const marker = `7.${process.pid}1`
    return Effect.gen(function*() {
      const { jobs, scope } = yield* execJobs({ timeout: Duration.millis(300), killGrace: Duration.millis(200) })
      const job = yield* jobs.start(["sh", "-c", `sleep ${marker}; echo late`]).pipe(
        withCurrentRequest(request("http:alice"))
      )
      // Timeout 300 ms + kill grace 200 ms: two seconds is ample for the job to be over.
      const done = yield* jobs.await(job.id).pipe(Effect.timeoutOption("2 seconds"))
      const orphans = pidsWith(`sleep ${marker}`)
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Option.isSome(done), "the timed-out job is still 'running' 2 s after a 300 ms timeout")
      assert.deepStrictEqual(orphans, [], "the program's child outlived the job's timeout")
    }).pipe(Effect.ensuring(Effect.sync(() => killAll(`sleep ${marker}`))))
  }, 15_000)

  // ExecJobs.ts runProcess: interrupting a job (daemon shutdown closes the ExecJobs scope) sends
  // SIGTERM and arms SIGKILL on an unref'd timer, then returns at once without waiting for the
  // child. The daemon exits before the timer fires, so a program that ignores or handles SIGTERM
  // slowly is left running, orphaned, after switchboard has stopped.
  it.live("closing ExecJobs (daemon shutdown) does not return while a started program is still alive", () => {
    const marker = `8.${process.pid}2`
    return Effect.gen(function*() {
      const { jobs, scope } = yield* execJobs({ timeout: Duration.minutes(1) })
      yield* jobs.start(["sh", "-c", `trap '' TERM; sleep ${marker}`]).pipe(withCurrentRequest(request("http:alice")))
      yield* Effect.sleep("200 millis") // let sh install its trap (the signal, not the timing, is under test)
      yield* Scope.close(scope, Exit.void)
      const alive = pidsWith(marker)
      assert.deepStrictEqual(alive, [], "a started program is still running after ExecJobs shut down")
    }).pipe(Effect.ensuring(Effect.sync(() => killAll(marker))))
  }, 15_000)

  // Jobs were interrupted one after the other at shutdown, each waiting out its kill grace: four
  // programs that ignore SIGTERM took four graces, past a service manager's stop timeout.
  it.live("shutdown ends all running programs together, in about one kill grace", () => {
    const marker = `9.${process.pid}3`
    return Effect.gen(function*() {
      const { jobs, scope } = yield* execJobs({ timeout: Duration.minutes(1), killGrace: Duration.seconds(1) })
      for (let i = 0; i < 4; i++) {
        yield* jobs.start(["sh", "-c", `trap '' TERM; sleep ${marker}`]).pipe(withCurrentRequest(request("http:alice")))
      }
      yield* Effect.sleep("200 millis") // let the shells install their traps
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const took = Date.now() - started
      assert.deepStrictEqual(pidsWith(marker), [], "a program is still running after shutdown")
      assert.isBelow(took, 3_000, `stopping 4 jobs took ${took} ms: one kill grace after another`)
    }).pipe(Effect.ensuring(Effect.sync(() => killAll(marker))))
  }, 20_000)

  // ExecJobs.ts runProcess: spawn() without `env` hands the child the daemon's whole environment,
  // secrets included (OPENAI_API_KEY, TELEGRAM_BOT_TOKEN, SWITCHBOARD_API_TOKEN, …). Any allowed
  // program that prints its environment (`npm run env`, `printenv`, a failing script dumping its
  // env) puts the key into the completion event, which goes to the model provider, the chat, and
  // GET /v1/jobs (`tail`).
  it.live("an exec'd program does not see the daemon's secrets in its environment", () => {
    const secret = `sk-review-${process.pid}-do-not-leak`
    const saved = process.env["OPENAI_API_KEY"]
    return Effect.gen(function*() {
      process.env["OPENAI_API_KEY"] = secret // what the daemon's own environment holds
      const { jobs, recorded, scope } = yield* execJobs({ allow: ["printenv"], timeout: Duration.seconds(5) })
      const job = yield* jobs.start(["printenv", "OPENAI_API_KEY"]).pipe(withCurrentRequest(request("http:alice")))
      const done = yield* jobs.await(job.id)
      yield* Scope.close(scope, Exit.void)
      assert.notInclude(done?.tail ?? "", secret, "the API key is in the job's output (GET /v1/jobs)")
      assert.notInclude(recorded.events.map((e) => e.text).join("\n"), secret, "the API key is in the system event")
    }).pipe(Effect.ensuring(Effect.sync(() => {
      if (saved === undefined) delete process.env["OPENAI_API_KEY"]
      else process.env["OPENAI_API_KEY"] = saved
    })))
  }, 15_000)
})

describe("review: fallback", () => {
  // ChatCompletions.ts probe: the restore probe sends `max_tokens: 1`, a parameter ordinary turns
  // never send. OpenAI's reasoning models (o1/o3/o4-mini, gpt-5…) reject it with 400
  // "unsupported_parameter", so once such a primary has failed over, every probe fails and turns
  // stay on the fallback until the daemon restarts, although the primary answers turns again.
  it.live("the primary is restored when it answers turns again, even if it rejects max_tokens", () =>
    Effect.gen(function*() {
      const fake = yield* fakeChatCompletions
      fake.scriptFor("primary-model", { stall: true })
      fake.setDefault((req) =>
        req.body.max_tokens !== undefined
          ? {
            status: 400,
            body: JSON.stringify({
              error: {
                message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                type: "invalid_request_error",
                param: "max_tokens",
                code: "unsupported_parameter"
              }
            })
          }
          : { text: "primary here" }, "primary-model")
      fake.setDefault({ text: "fallback here" }, "fallback-model")
      const patch = withFallback((s) => ({ ...s, model: { ...s.model, firstTokenTimeout: Duration.millis(300), attempts: 1 } }))
      const layer = ChatModel.layerFetch.pipe(Layer.provide(GatewayConfig.test(agentSettings(fake.url, "/tmp", patch))))
      yield* Effect.gen(function*() {
        const model = yield* ChatModel
        const first = yield* model.languageModel.generateText({ prompt: "hi" })
        assert.strictEqual(first.text, "fallback here")
        // Probes run every 100 ms; give them two seconds.
        const deadline = Date.now() + 2000
        while ((yield* model.status).active !== "primary" && Date.now() < deadline) yield* Effect.sleep("50 millis")
        const status = yield* model.status
        assert.strictEqual(status.active, "primary", `still on the fallback; last error: ${status.lastError}`)
      }).pipe(Effect.provide(layer))
    }), 15_000)
})

describe("review: notify", () => {
  // AgentTools.notify → Router.deliver(explicit) → the Telegram sender sends to any chat id. Issue 4:
  // "an explicit other target must be a known, allowed target"; TELEGRAM_ALLOWED_CHAT_IDS is
  // default-deny. A model (or text it was fed: a system event, a web page) can make the bot write
  // to any Telegram chat that ever started it.
  it.live("notify to a Telegram chat outside TELEGRAM_ALLOWED_CHAT_IDS is refused, not sent", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      const tools = Context.get(ctx, AgentTools)
      const result = yield* tools.notify({ text: "hello stranger", target: "telegram:999" }).pipe(
        withCurrentRequest(request("http:alice")),
        Effect.result
      )
      assert.deepStrictEqual(fake.callsOf("sendMessage", 999).map((c) => c.payload["text"]), [])
      assert.strictEqual(result._tag, "Failure", "notify reported success for a chat that is not allowed")
    }), 15_000)
})

describe("review: memory", () => {
  const dirs: Array<string> = []
  const stateDir = () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-review-"))
    dirs.push(dir)
    return dir
  }
  const user = (text: string) => Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text })] })
  const texts = (messages: ReadonlyArray<Prompt.Message>) =>
    messages.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => ("text" in p ? p.text : "")).join("")))

  // Memory.ts write(): appendFileSync of whole lines. A crash (power loss, SIGKILL, full disk)
  // mid-append leaves a last line without its "\n". replay() skips that fragment, but the next
  // append after the restart is glued onto it, so the first message said after the restart is
  // lost as well (and every later compaction's `replaced` count is then off by one).
  it.effect("a torn last line from a crash does not swallow the first message after the restart", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* Memory.make(dir)
      yield* before.append([user("first")])
      const file = (yield* before.info).file
      // The crash: half of the next line reached the disk.
      appendFileSync(file, "{\"t\":\"msg\",\"m\":{\"role\":\"user\",\"con")
      const afterCrash = yield* Memory.make(dir)
      yield* afterCrash.append([user("said after the restart")])
      const afterRestart = yield* Memory.make(dir)
      const remembered = texts(yield* afterRestart.load)
      assert.include(remembered, "said after the restart", `remembered: ${JSON.stringify(remembered)}`)
    }).pipe(Effect.ensuring(Effect.sync(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true }))))))
})
