// What is still waiting when the daemon stops, kept for the next start, so a restart (a deploy,
// systemd's SIGTERM) loses nothing that was accepted: requests still in the in-memory queue
// (`<stateDir>/pending.jsonl`, queued again) and replies still in the Router's outbox
// (`<stateDir>/outbox.jsonl`, sent again). Graceful stops only: a crash loses both, which the
// Redis-backed durable queue will answer. Relays are not kept: the system events they carry live
// in memory and are gone after a restart.
import { existsSync, readFileSync, unlinkSync } from "node:fs"
import { join } from "node:path"
import { Context, Effect, Layer, Result, Schema } from "effect"
import { writeFileAtomic } from "../domain/files.ts"
import { Inbound, OutboundKind, Source } from "../domain/model.ts"
import { CommandQueue } from "./CommandQueue.ts"
import { Dispatcher } from "./Dispatcher.ts"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Intake } from "./Intake.ts"
import { RequestLog } from "./RequestLog.ts"
import { Router } from "./Router.ts"

const decodeLine = Schema.decodeUnknownResult(Schema.fromJsonString(Inbound))

const OutboxLine = Schema.Struct({
  target: Source,
  message: Schema.Struct({
    kind: OutboundKind,
    text: Schema.String,
    requestId: Schema.optional(Schema.String),
    question: Schema.optional(Schema.Struct({ id: Schema.String, options: Schema.Array(Schema.String) })),
    expiresAt: Schema.optional(Schema.Number)
  }),
  since: Schema.Number,
  attempts: Schema.Number,
  lastError: Schema.String
})
const decodeOutboxLine = Schema.decodeUnknownResult(Schema.fromJsonString(OutboxLine))
const encodeOutboxLine = Schema.encodeSync(Schema.fromJsonString(OutboxLine))

/** The lines of a kept file: values that decode, and a reason for each line that does not. */
const parseLines = <A>(text: string, decode: (raw: string) => Result.Result<A, { readonly message: string }>) => {
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

/** A kept queue: the requests that decode, and a reason for each line that does not. */
export const parseSpill = (text: string) => {
  const { values, rejected } = parseLines(text, decodeLine)
  return { requests: values, rejected }
}

/** Read a kept file (missing: empty); unreadable lines are logged with their reason. */
const readKept = <A>(file: string, what: string, parse: (text: string) => { values: ReadonlyArray<A>; rejected: ReadonlyArray<{ line: number; reason: string }> }) =>
  Effect.gen(function*() {
    if (!existsSync(file)) return []
    const text = yield* Effect.try(() => readFileSync(file, "utf8")).pipe(
      Effect.tapError((e) => Effect.logError(`could not read the kept ${what}`, e).pipe(Effect.annotateLogs({ file }))),
      Effect.orElseSucceed(() => "")
    )
    const parsed = parse(text)
    for (const bad of parsed.rejected) {
      yield* Effect.logError(`a kept ${what} entry does not decode; skipped`).pipe(
        Effect.annotateLogs({ file, line: bad.line, reason: bad.reason })
      )
    }
    // Removed once read: a second start must not deliver them twice.
    yield* Effect.try(() => unlinkSync(file)).pipe(Effect.ignore)
    return parsed.values
  })

const writeKept = <A>(file: string, values: ReadonlyArray<A>, encode: (a: A) => string) =>
  values.length === 0 ? Effect.void : writeFileAtomic(file, values.map((v) => encode(v) + "\n").join(""))

export interface Kept {
  readonly queued: number
  readonly outbox: number
}

export class QueueSpill extends Context.Service<QueueSpill, {
  /** Queue again and re-send what the last stop kept. The files are removed. */
  readonly restore: Effect.Effect<Kept>
  /** Wait for the Dispatcher to stop, then keep what is still queued and undelivered. */
  readonly save: Effect.Effect<Kept>
}>()("switchboard/QueueSpill") {
  static readonly make = (stateDir: string) =>
    Effect.gen(function*() {
      const queue = yield* CommandQueue
      const dispatcher = yield* Dispatcher
      const requests = yield* RequestLog
      const router = yield* Router
      const intake = yield* Intake
      const queueFile = join(stateDir, "pending.jsonl")
      const outboxFile = join(stateDir, "outbox.jsonl")

      const restore = Effect.gen(function*() {
        // The outbox first: older replies to a chat go out before replies to its kept requests.
        const undelivered = yield* readKept(outboxFile, "outbox", (text) => parseLines(text, decodeOutboxLine))
        yield* router.restoreOutbox(undelivered)
        const kept = yield* readKept(queueFile, "queue", (text) => {
          const { requests, rejected } = parseSpill(text)
          return { values: requests, rejected }
        })
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
        if (kept.length + undelivered.length > 0) {
          yield* Effect.logInfo(`queued ${queued} message(s) and ${undelivered.length} undelivered repl(ies) kept from the last stop`)
        }
        return { queued, outbox: undelivered.length }
      })

      const save = Effect.gen(function*() {
        yield* dispatcher.drain
        yield* intake.settle
        yield* router.stopOutbox
        // The queue is in the Store already (committed when accepted); only the outbox is written here.
        const undelivered = yield* router.outbox
        yield* writeKept(outboxFile, undelivered, encodeOutboxLine)
        if (undelivered.length > 0) {
          yield* Effect.logInfo(`kept ${undelivered.length} undelivered repl(ies) for the next start`)
        }
        return { queued: 0, outbox: undelivered.length }
      })

      return QueueSpill.of({ restore, save })
    })

  /** Restore at start, save at stop (`<stateDir>/pending.jsonl`, `outbox.jsonl`). Compose it outermost. */
  static readonly layer = Layer.effect(
    QueueSpill,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const spill = yield* QueueSpill.make(config.stateDir)
      yield* Effect.addFinalizer(() => Effect.asVoid(spill.save))
      yield* spill.restore
      return spill
    })
  )
}
