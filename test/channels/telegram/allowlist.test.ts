// TELEGRAM_ALLOWED_CHAT_IDS guards both directions: a chat outside it never reaches the agent
// (see channel.test.ts), and the agent cannot write to it either.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect } from "effect"
import { AgentTools } from "../../../src/agent/AgentTools.ts"
import { withCurrentRequest } from "../../../src/core/CurrentRequest.ts"
import type { Inbound } from "../../../src/domain/model.ts"
import { fakeBotApi } from "../../support/fakeBotApi.ts"
import { startTelegram } from "../../support/telegramHarness.ts"

const request = (source: string): Inbound => ({
  id: `r-${source}`,
  source,
  text: "run it",
  priority: "human",
  receivedAt: Date.now()
})

describe("Telegram allowlist, outbound", () => {
  // An explicit other target must be a known, allowed target, and the allowlist is default-deny. The
  // Telegram sender once sent to any chat id: a model (or text it was fed: a system event, a web page)
  // could make the bot write to any chat that ever started it.
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
