// Before the store, a graceful stop wrote what was still queued to `<state dir>/pending.jsonl` and
// the undelivered replies to `outbox.jsonl`. The first start of this version takes them into the
// store once (queued again in their order, under their ids; sent again) and deletes the files. A
// line that does not decode is logged with its reason and skipped.
import { existsSync, readFileSync, unlinkSync } from "node:fs"
import { join } from "node:path"
import { Effect, Result, Schema } from "effect"
import { Inbound, Source } from "../domain/model.ts"
import { StoredMessage } from "../store/tables/outbox.ts"
import { CommandQueue } from "./CommandQueue.ts"
import { RequestLog } from "./RequestLog.ts"
import { Router } from "./Router.ts"

const decodeRequest = Schema.decodeUnknownResult(Schema.fromJsonString(Inbound))
const decodeOutboxLine = Schema.decodeUnknownResult(Schema.fromJsonString(Schema.Struct({
  target: Source,
  message: StoredMessage,
  since: Schema.Number,
  attempts: Schema.Number,
  lastError: Schema.String
})))

/** The lines of a kept file: values that decode, and a reason for each line that does not. */
export const parseLines = <A>(text: string, decode: (raw: string) => Result.Result<A, { readonly message: string }>) => {
  const values: Array<A> = []
  const rejected: Array<{ readonly line: number; readonly reason: string }> = []
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return
    const decoded = decode(raw)
    if (Result.isSuccess(decoded)) values.push(decoded.success)
    else rejected.push({ line: i + 1, reason: decoded.failure.message.split("\n")[0]! })
  })
  return { values, rejected }
}

/** A kept queue file: the requests that decode, and a reason for each line that does not. */
export const parseSpill = (text: string) => {
  const { values, rejected } = parseLines(text, decodeRequest)
  return { requests: values, rejected }
}

const readOnce = <A>(file: string, what: string, decode: (raw: string) => Result.Result<A, { readonly message: string }>) =>
  Effect.gen(function*() {
    if (!existsSync(file)) return []
    const text = yield* Effect.try(() => readFileSync(file, "utf8")).pipe(
      Effect.tapError((e) => Effect.logError(`could not read the old ${what} file`, e).pipe(Effect.annotateLogs({ file }))),
      Effect.orElseSucceed(() => "")
    )
    const parsed = parseLines(text, decode)
    for (const bad of parsed.rejected) {
      yield* Effect.logError(`an entry of the old ${what} file does not decode; skipped`).pipe(
        Effect.annotateLogs({ file, line: bad.line, reason: bad.reason })
      )
    }
    return parsed.values
  })

/** Take an older version's files into the store, then delete them (a second start must not repeat them). */
export const importLegacyFiles = (stateDir: string) =>
  Effect.gen(function*() {
    const queue = yield* CommandQueue
    const requests = yield* RequestLog
    const router = yield* Router
    const queueFile = join(stateDir, "pending.jsonl")
    const outboxFile = join(stateDir, "outbox.jsonl")
    // The outbox first: older replies to a chat go out before replies to its kept requests.
    const undelivered = yield* readOnce(outboxFile, "outbox", decodeOutboxLine)
    yield* router.restoreOutbox(undelivered)
    const kept = yield* readOnce(queueFile, "queue", decodeRequest)
    let queued = 0
    for (const request of kept) {
      const offered = yield* queue.offer(request, requests.queued(request)).pipe(Effect.result)
      if (Result.isSuccess(offered) && offered.success._tag === "Accepted") queued++
      else if (Result.isFailure(offered)) {
        yield* Effect.logError("a kept message did not fit in the queue").pipe(
          Effect.annotateLogs({ requestId: request.id, source: request.source, reason: offered.failure.message })
        )
      }
    }
    // Only once everything is in the store: a crash before this imports them again (deduplicated by id).
    for (const file of [outboxFile, queueFile]) yield* Effect.try(() => existsSync(file) && unlinkSync(file)).pipe(Effect.ignore)
    if (kept.length + undelivered.length > 0) {
      yield* Effect.logInfo(`took ${queued} message(s) and ${undelivered.length} undelivered repl(ies) of pending.jsonl / outbox.jsonl into the store`)
    }
  })
