// The effects behind the agent's tools. Handlers read CurrentRequest (fiber-local) to know which
// request they serve: there is no "current source" anywhere else.
import { Context, Effect, Layer, Option, Schema } from "effect"
import { isAllowed, parseCommand } from "./exec/argv.ts"
import { Agents } from "../config/Agents.ts"
import type { DeliveryError } from "../domain/errors.ts"
import { CurrentRequest, CurrentSession } from "../core/CurrentRequest.ts"
import { ExecJobs } from "./exec/ExecJobs.ts"
import { SendOnce } from "../core/SendOnce.ts"
import { makeSteps } from "../core/sendGuard.ts"
import { Questions } from "../core/Questions.ts"
import { Router } from "../core/Router.ts"

export class ToolFailed extends Schema.TaggedError<ToolFailed>()("ToolFailed", {
  tool: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.tool}: ${this.reason}`
  }
}

export interface NotifyParams {
  readonly text: string
  /** Defaults to the current request's source. Naming a target makes the delivery explicit. */
  readonly target?: string | undefined
}

export interface AskParams {
  readonly question: string
  readonly options: ReadonlyArray<string>
}

export type AskResult =
  | { readonly answered: true; readonly answer: string; readonly option?: number | undefined }
  | { readonly answered: false; readonly reason: string }

export interface ExecParams {
  /** argv (`["make", "build"]`) or one line split into argv without a shell. */
  readonly command: string | ReadonlyArray<string>
}

export interface ExecResult {
  readonly jobId: string
  readonly argv: ReadonlyArray<string>
  readonly note: string
}

export class AgentTools extends Context.Service<AgentTools, {
  readonly notify: (params: NotifyParams) => Effect.Effect<{ readonly deliveredTo: string; readonly note?: string }, ToolFailed>
  /** Ask the current request's chat and wait for the answer (or "no answer" at the timeout). */
  readonly ask: (params: AskParams) => Effect.Effect<AskResult, ToolFailed>
  /** Start an allowed program in the background for the current request's chat. */
  readonly exec: (params: ExecParams) => Effect.Effect<ExecResult, ToolFailed>
}>()("switchboard/AgentTools") {
  static readonly layer = Layer.effect(
    AgentTools,
    Effect.gen(function*() {
      const router = yield* Router
      const notify = Effect.fn("tool.notify")(function*({ text, target }: NotifyParams) {
        const current = yield* CurrentRequest
        const to = target ?? current?.source
        yield* Effect.annotateCurrentSpan({
          "switchboard.tool": "notify",
          ...(current ? { "switchboard.source": current.source, "switchboard.request_id": current.id } : {}),
          ...(to ? { "switchboard.target": to } : {})
        })
        if (to === undefined) {
          return yield* new ToolFailed({ tool: "notify", reason: "no target: outside a turn a target must be named" })
        }
        const outcome = yield* router.deliver(to, { kind: "notify", text, requestId: current?.id }, { explicit: target !== undefined })
          .pipe(Effect.mapError((e: DeliveryError) => new ToolFailed({ tool: "notify", reason: e.message })))
        // The model should not tell the person "sent" when the message is still waiting.
        return outcome === "queued"
          ? { deliveredTo: to, note: "not delivered yet: the channel is unreachable; it will be sent when it is back" }
          : { deliveredTo: to }
      })

      // Questions and ExecJobs are optional parts of the graph: without them (the echo daemon) the
      // tools say so instead of failing the build.
      const questions = yield* Effect.serviceOption(Questions)
      const jobs = yield* Effect.serviceOption(ExecJobs)
      // Cluster mode: a turn re-run after a failover must not start its commands again.
      const once = yield* Effect.serviceOption(SendOnce)
      const execSteps = makeSteps()
      const agents = yield* Effect.serviceOption(Agents)
      /** The exec list of the turn's agent: it narrows SWITCHBOARD_EXEC_ALLOW (none known: the daemon's). */
      const agentExec = Effect.map(CurrentSession, (ref) =>
        // Without an agents file the one agent's list is the daemon's: ExecJobs says it all.
        ref === undefined || Option.isNone(agents) || !agents.value.fromFile ? undefined : agents.value.byName(ref.agent))

      const ask = Effect.fn("tool.ask")(function*({ question, options }: AskParams) {
        const current = yield* CurrentRequest
        yield* Effect.annotateCurrentSpan({
          "switchboard.tool": "ask",
          ...(current ? { "switchboard.source": current.source, "switchboard.request_id": current.id } : {})
        })
        if (current === undefined) return yield* new ToolFailed({ tool: "ask", reason: "ask only works during a turn" })
        if (Option.isNone(questions)) return yield* new ToolFailed({ tool: "ask", reason: "questions are not available" })
        if (options.length === 0) return yield* new ToolFailed({ tool: "ask", reason: "give at least one option" })
        const outcome = yield* questions.value.ask(current.source, question, options).pipe(
          Effect.mapError((e) => new ToolFailed({ tool: "ask", reason: e.message }))
        )
        const result: AskResult = outcome._tag === "Answered"
          ? { answered: true, answer: outcome.answer, ...(outcome.optionIndex !== undefined ? { option: outcome.optionIndex + 1 } : {}) }
          : { answered: false, reason: "no answer before the timeout" }
        return result
      })

      const exec = Effect.fn("tool.exec")(function*({ command }: ExecParams) {
        const current = yield* CurrentRequest
        yield* Effect.annotateCurrentSpan({
          "switchboard.tool": "exec",
          ...(current ? { "switchboard.source": current.source, "switchboard.request_id": current.id } : {})
        })
        if (Option.isNone(jobs)) return yield* new ToolFailed({ tool: "exec", reason: "exec is not available" })
        const parsed = parseCommand(command)
        if (parsed._tag === "Refused") return yield* new ToolFailed({ tool: "exec", reason: parsed.reason })
        const agent = yield* agentExec
        const program = parsed.argv[0] ?? ""
        if (agent !== undefined && !isAllowed(agent.exec, program)) {
          return yield* new ToolFailed({
            tool: "exec",
            reason: `not an allowed program for agent ${agent.name} (allowed: ${agent.exec.join(", ") || "none"})`
          })
        }
        if (Option.isSome(once) && current !== undefined) {
          const key = `${current.id}/exec/${execSteps.next(current.id)}`
          if (yield* once.value.sent(key)) {
            return {
              jobId: "",
              argv: parsed.argv,
              note: `not started again: an earlier run of this turn (before a daemon failover) started it; its result arrives as a system event for ${current.source}`
            }
          }
          // Recorded before it starts: a command is better not run twice than run twice.
          yield* once.value.record(key)
        }
        const job = yield* jobs.value.start(parsed.argv).pipe(
          Effect.mapError((e) => new ToolFailed({ tool: "exec", reason: e.message }))
        )
        return {
          jobId: job.id,
          argv: job.argv,
          note: `started job ${job.id}; its result will arrive as a system event for ${job.sessionKey}`
        }
      })

      return AgentTools.of({ notify, ask, exec })
    })
  )
}
