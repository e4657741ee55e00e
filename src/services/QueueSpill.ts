// Messages still waiting in the in-memory queue when the daemon stops are written to
// `<stateDir>/pending.jsonl` and queued again on the next start, so a restart (a deploy, systemd's
// SIGTERM) loses nothing that was accepted. Graceful stops only: a crash loses the in-memory
// queue, which the Redis-backed durable queue will answer. Relays are not kept: the system events
// they carry live in memory and are gone after a restart.
import { existsSync, readFileSync, unlinkSync } from "node:fs"
import { join } from "node:path"
import { Context, Effect, Layer, Result, Schema } from "effect"
import { writeFileAtomic } from "../domain/files.ts"
import { Inbound } from "../domain/model.ts"
import { CommandQueue } from "./CommandQueue.ts"
import { Dispatcher } from "./Dispatcher.ts"
import { GatewayConfig } from "./GatewayConfig.ts"
import { RequestLog } from "./RequestLog.ts"

const decodeLine = Schema.decodeUnknownResult(Schema.fromJsonString(Inbound))
const encodeLine = Schema.encodeSync(Schema.fromJsonString(Inbound))

/** The lines of a spill file: requests that decode, and a reason for each that does not. */
export const parseSpill = (text: string) => {
  const requests: Array<Inbound> = []
  const rejected: Array<{ readonly line: number; readonly reason: string }> = []
  text.split("\n").forEach((raw, i) => {
    if (raw.trim() === "") return
    const decoded = decodeLine(raw)
    if (Result.isSuccess(decoded)) requests.push(decoded.success)
    else rejected.push({ line: i + 1, reason: decoded.failure.message.split("\n")[0]! })
  })
  return { requests, rejected }
}

export class QueueSpill extends Context.Service<QueueSpill, {
  /** Queue again what the last stop kept; returns how many. The file is removed. */
  readonly restore: Effect.Effect<number>
  /** Wait for the Dispatcher to stop, then keep what is still queued; returns how many. */
  readonly save: Effect.Effect<number>
}>()("switchboard/QueueSpill") {
  static readonly make = (file: string) =>
    Effect.gen(function*() {
      const queue = yield* CommandQueue
      const dispatcher = yield* Dispatcher
      const requests = yield* RequestLog

      const restore = Effect.gen(function*() {
        if (!existsSync(file)) return 0
        const text = yield* Effect.try(() => readFileSync(file, "utf8")).pipe(
          Effect.tapError((e) => Effect.logError("could not read the kept queue", e).pipe(Effect.annotateLogs({ file }))),
          Effect.orElseSucceed(() => "")
        )
        const spill = parseSpill(text)
        for (const bad of spill.rejected) {
          yield* Effect.logError("a kept queue entry does not decode; skipped").pipe(
            Effect.annotateLogs({ file, line: bad.line, reason: bad.reason })
          )
        }
        let restored = 0
        for (const request of spill.requests) {
          const offered = yield* queue.offer(request, requests.queued(request)).pipe(Effect.result)
          if (Result.isSuccess(offered) && offered.success._tag === "Accepted") restored++
          else if (Result.isFailure(offered)) {
            yield* Effect.logError("a kept message did not fit in the queue").pipe(
              Effect.annotateLogs({ requestId: request.id, source: request.source, reason: offered.failure.message })
            )
          }
        }
        // Removed once queued: a second start must not answer them twice.
        yield* Effect.try(() => unlinkSync(file)).pipe(Effect.ignore)
        yield* Effect.logInfo(`queued ${restored} message(s) kept from the last stop`).pipe(
          Effect.annotateLogs({ file, restored, skipped: spill.rejected.length })
        )
        return restored
      })

      const save = Effect.gen(function*() {
        yield* dispatcher.drain
        const kept = (yield* queue.pending).map((item) => item.request).filter((r) => r.priority !== "relay")
        if (kept.length === 0) return 0
        yield* writeFileAtomic(file, kept.map((r) => encodeLine(r) + "\n").join(""))
        yield* Effect.logInfo(`kept ${kept.length} queued message(s) for the next start`).pipe(
          Effect.annotateLogs({ file, requestIds: kept.map((r) => r.id).join(",") })
        )
        return kept.length
      })

      return QueueSpill.of({ restore, save })
    })

  /** Restore at start, save at stop (`<stateDir>/pending.jsonl`). Compose it outermost. */
  static readonly layer = Layer.effect(
    QueueSpill,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const spill = yield* QueueSpill.make(join(config.stateDir, "pending.jsonl"))
      yield* Effect.addFinalizer(() => Effect.asVoid(spill.save))
      yield* spill.restore
      return spill
    })
  )
}
