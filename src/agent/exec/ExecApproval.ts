// Approval before a job runs (SWITCHBOARD_EXEC_APPROVAL=ask, the default): the exact argv is
// shown in the chat the request came from, with Approve / Deny (Telegram buttons, a numbered
// choice elsewhere: the `ask` machinery of Questions), and the job starts only on Approve.
// Programs (or program + leading arguments) in SWITCHBOARD_EXEC_AUTO run without asking.
import { Context, Effect, Layer, Option } from "effect"
import { autoApproved, showArgv } from "./policy.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { Questions } from "../../core/Questions.ts"

export type Verdict =
  | { readonly _tag: "Approved"; readonly how: "asked" | "auto" | "never-ask" }
  | { readonly _tag: "Denied"; readonly answer: string }
  | { readonly _tag: "NoAnswer" }
  | { readonly _tag: "Unavailable"; readonly reason: string }

export const APPROVE = "Approve"
export const DENY = "Deny"

export const approvalQuestion = (argv: ReadonlyArray<string>) =>
  `The agent wants to run this program:\n\`\`\`\n${showArgv(argv)}\n\`\`\`\nRun it?`

export interface ApprovalOptions {
  readonly mode: "ask" | "never"
  readonly auto: ReadonlyArray<string>
}

export class ExecApproval extends Context.Service<ExecApproval, {
  /** Ask `source` (the chat of the request that wants the job) whether argv may run. */
  readonly decide: (argv: ReadonlyArray<string>, source: string) => Effect.Effect<Verdict>
}>()("switchboard/ExecApproval") {
  static readonly make = (options: ApprovalOptions, questions: Option.Option<Questions["Service"]>) =>
    ExecApproval.of({
      decide: Effect.fn("exec.approval")(function*(argv: ReadonlyArray<string>, source: string) {
        if (options.mode === "never") return { _tag: "Approved", how: "never-ask" } as const
        if (autoApproved(options.auto, argv)) return { _tag: "Approved", how: "auto" } as const
        if (Option.isNone(questions)) return { _tag: "Unavailable", reason: "approval is needed but questions are not available" } as const
        yield* Effect.annotateCurrentSpan({ "switchboard.target": source })
        const outcome = yield* questions.value.ask(source, approvalQuestion(argv), [APPROVE, DENY]).pipe(Effect.result)
        if (outcome._tag === "Failure") return { _tag: "Unavailable", reason: outcome.failure.message } as const
        const answer = outcome.success
        if (answer._tag === "NoAnswer") return { _tag: "NoAnswer" } as const
        // Only the Approve option approves: anything else typed in reply is a refusal.
        return answer.optionIndex === 0 ? { _tag: "Approved", how: "asked" } as const : { _tag: "Denied", answer: answer.answer } as const
      })
    })

  /** From SWITCHBOARD_EXEC_APPROVAL / SWITCHBOARD_EXEC_AUTO, asking through Questions. */
  static readonly layer = Layer.effect(
    ExecApproval,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      return ExecApproval.make({ mode: config.exec.approval, auto: config.exec.auto }, Option.some(yield* Questions))
    })
  )
}
