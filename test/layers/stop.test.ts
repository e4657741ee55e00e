// Stopping the built daemon while clients hold long polls open.
import { rmSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { startDaemon } from "../support/daemon.ts"

describe("stopping with long polls open", () => {
  // The HTTP server's graceful close waits for open requests (20 s by default), and a long poll once
  // kept waiting through a stop. `switchboard chat` always has one open, so a `systemctl stop` took
  // ~20 s more, the poll got a 503 with an empty body, and with a running turn the stop passed the
  // unit's TimeoutStopSec and was SIGKILLed.
  it("SIGTERM while a client long-polls its inbox exits within a few seconds", async () => {
    const d = await startDaemon()
    try {
      const poll = d.fetch("/v1/inbox/cli:local?wait=50").then((r) => r.status, () => "error")
      // Make sure the poll is being served before the stop: a second, short request on its heels.
      await d.fetch("/health")
      const started = Date.now()
      const code = await d.stop()
      const took = Date.now() - started
      await poll
      assert.strictEqual(code, 0)
      assert.isBelow(took, 5_000, `the daemon needed ${took} ms to stop with one long poll open`)
    } finally {
      await d.stop("SIGKILL")
      rmSync(d.stateDir, { recursive: true, force: true })
    }
  }, 45_000)
})
