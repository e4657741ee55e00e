// The Dispatcher under faults: a crashing channel sender or a crashing turn never stops the queue
// and is reported for what it is. Each case once failed; its comment says how.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Scope } from "effect"
import { Inbox } from "../../src/channels/http/Inbox.ts"
import { Dispatcher } from "../../src/core/Dispatcher.ts"
import { Intake } from "../../src/core/Intake.ts"
import { RequestLog } from "../../src/core/RequestLog.ts"
import { Router } from "../../src/core/Router.ts"
import { Session } from "../../src/core/Session.ts"
import { gateway, scriptedSession } from "../support/harness.ts"

/** Wait (on whatever clock) until the request is done or failed. */
const settled = (id: string) => RequestLog.use((log) => log.await(id, 60_000))

describe("the dispatcher under faults", () => {
  // Delivery failures were once ignored but defects were not, and the `take → handle` loop caught
  // nothing: one channel sender that throws (a bug, an unexpected API shape) killed the dispatcher
  // fiber, and from then on every message was accepted and never answered while /health passed.
  it.live("a channel sender that crashes on one reply does not stop the queue: the next message is answered", () =>
    Effect.gen(function*() {
      const intake = yield* Intake
      const router = yield* Router
      const scope = yield* Scope.make()
      yield* router.register({ channel: "boom", send: () => Effect.die(new Error("sender bug")) }).pipe(
        Scope.provide(scope)
      )
      yield* intake.submit({ id: "b1", source: "boom:1", text: "first" })
      yield* intake.submit({ id: "h1", source: "http:alice", text: "second" })
      const record = yield* RequestLog.use((log) => log.await("h1", 3_000))
      assert.strictEqual(record?.status, "done", "the message after the crashed delivery was never answered")
    }).pipe(Effect.provide(gateway(Session.echo))))

  // Any failed exit of a turn that was not a TurnFailed (a defect in the session or a tool) was once
  // reported as aborted: the user was told "Stopped." as if they had sent /stop, /status counted an
  // abort, and the defect itself was never logged.
  it.live("a turn that crashes is reported as a failure, not as 'Stopped.' and not counted as aborted", () =>
    Effect.gen(function*() {
      const { layer } = yield* scriptedSession(() => Effect.die(new Error("bug in a tool")))
      yield* Effect.gen(function*() {
        const intake = yield* Intake
        yield* intake.submit({ id: "x1", source: "http:alice", text: "do it" })
        yield* settled("x1")
        const page = yield* (yield* Inbox).read("http:alice", 0, 0)
        assert.strictEqual(page.messages.length, 1)
        assert.notStrictEqual(page.messages[0]!.text, "Stopped.", "a crash was reported to the user as a stop")
        const stats = yield* (yield* Dispatcher).stats
        assert.strictEqual(stats.aborted, 0, "a crash was counted as an abort")
        assert.strictEqual(stats.failed, 1)
      }).pipe(Effect.provide(gateway(layer)))
    }))
})
