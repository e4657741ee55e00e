// /metrics on the built daemon as an operator's alerts read it.
import { afterEach, assert, describe, it } from "@effect/vitest"
import { startDaemon, type Daemon } from "../support/daemon.ts"

const daemons: Array<Daemon> = []
afterEach(async () => {
  for (const d of daemons.splice(0)) await d.stop()
})

describe("metrics an operator alerts on", () => {
  // The failure counters once appeared only after their first increment. Prometheus' increase() needs
  // two samples of a series, so the first failure after every start (a series born at 1) never fired an
  // alert: rare failures are exactly the ones an operator alerts on.
  it("the failure counters an operator alerts on are exported at 0 from the start", async () => {
    const d = await startDaemon()
    daemons.push(d)
    // One good turn, so the turn/delivery series exist at all.
    const posted = await d.post("/v1/messages", { text: "hello", source: "http:ops", id: "m1" })
    assert.strictEqual(posted.status, 202)
    const done = await d.json("/v1/messages/http:ops~m1?wait=10")
    assert.strictEqual(done.body.status, "done")
    const text = await (await d.fetch("/metrics")).text()
    for (
      const series of [
        /^switchboard_turns_total\{outcome="Failed"\} 0$/m,
        /^switchboard_turns_total\{outcome="TimedOut"\} 0$/m,
        /^switchboard_queue_refused_total 0$/m,
        /^switchboard_deliveries_total\{[^}]*outcome="failed"[^}]*\} 0$/m,
        /^switchboard_heartbeat_ticks_total\{outcome="failed"\} 0$/m
      ]
    ) {
      assert.match(text, series, `missing from /metrics until the first failure: ${series}`)
    }
  }, 30_000)
})
