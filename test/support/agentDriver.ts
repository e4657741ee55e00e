// Driving the composed agent in-process the way a channel would: submit through Intake, wait on
// the RequestLog, read what reached each source's inbox.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import { Inbox, type InboxMessage } from "../../src/channels/http/Inbox.ts"
import { Intake } from "../../src/core/Intake.ts"
import { type RequestRecord, RequestLog } from "../../src/core/RequestLog.ts"

export const tempStateDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "switchboard-agent-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

export const say = (source: string, text: string, priority?: "human" | "event") =>
  Effect.gen(function*() {
    const id = `m-${randomUUID().slice(0, 8)}`
    yield* (yield* Intake).submit({ id, source, text, priority })
    return id
  })

export const finished = (id: string, waitMs = 15_000) =>
  Effect.gen(function*() {
    const record = yield* (yield* RequestLog).await(id, waitMs)
    if (record === undefined || (record.status !== "done" && record.status !== "failed")) {
      return yield* Effect.die(new Error(`request ${id} did not finish: ${JSON.stringify(record)}`))
    }
    return record as RequestRecord
  })

export const converse = (source: string, text: string, priority?: "human" | "event") =>
  Effect.flatMap(say(source, text, priority), (id) => finished(id))

export const inbox = (source: string): Effect.Effect<ReadonlyArray<InboxMessage>, never, Inbox> =>
  Effect.gen(function*() {
    const page = yield* (yield* Inbox).read(source, 0, 0)
    return page.messages
  })

/** Poll until `check` returns a value, within a bounded deadline. */
export const eventually = <A, E, R>(check: Effect.Effect<A | undefined, E, R>, ms = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + ms
    for (;;) {
      const v = yield* check
      if (v !== undefined) return v
      if (Date.now() > deadline) return yield* Effect.die(new Error(`condition not met within ${ms} ms`))
      yield* Effect.sleep("15 millis")
    }
  })
