// The agent's HTTP routes: answer a pending question (the HTTP/CLI side of `ask`) and list exec jobs.
import { Effect, Layer, Schema } from "effect"
import { HttpRouter } from "effect/http"
import { ExecJobs } from "../../agent/exec/ExecJobs.ts"
import { Questions } from "../../core/Questions.ts"
import { allowSource, jsonBody, notFound, route } from "./api.ts"

const AnswerBody = Schema.Struct({
  answer: Schema.String.check(Schema.isPattern(/\S/, { expected: "a non-empty answer (an option number or text)" }))
})

/** POST /v1/answers/:questionId `{ "answer" }` → 200 `{ "questionId", "answered": true }`; 404 when not pending. */
const PostAnswer = route("POST", "/v1/answers/:questionId", Effect.gen(function*() {
  const { questionId } = yield* HttpRouter.params
  const body = yield* jsonBody(AnswerBody)
  const questions = yield* Questions
  const asked = yield* questions.sourceOf(questionId ?? "")
  if (asked === undefined) return yield* notFound(`no question "${questionId}" is waiting for an answer`)
  yield* allowSource(asked)
  const answered = yield* questions.answer(questionId ?? "", body.answer)
  if (!answered) return yield* notFound(`no question "${questionId}" is waiting for an answer`)
  return { body: { questionId, answered: true } }
}))

/** GET /v1/jobs → `{ "jobs": [{ id, argv, sessionKey, state, exitCode, startedAt, finishedAt, tail }] }`. */
const GetJobs = route("GET", "/v1/jobs", Effect.gen(function*() {
  return { body: { jobs: yield* (yield* ExecJobs).list } }
}), { admin: true })

export const AgentRoutes = Layer.mergeAll(PostAnswer, GetJobs)
