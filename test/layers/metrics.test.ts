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
        /^switchboard_heartbeat_ticks_total\{outcome="failed"\} 0$/m,
        /^switchboard_store_failures_total 0$/m
      ]
    ) {
      assert.match(text, series, `missing from /metrics until the first failure: ${series}`)
    }
  }, 30_000)

  it("the store's rows per table are read at scrape, and /status says where the store is and how durable", async () => {
    const d = await startDaemon({ env: { SWITCHBOARD_DURABILITY: "power" } })
    daemons.push(d)
    const posted = await d.post("/v1/messages", { text: "hello", source: "http:ops", id: "m1" })
    assert.strictEqual(posted.status, 202)
    await d.json("/v1/messages/http:ops~m1?wait=10")
    const text = await (await d.fetch("/metrics")).text()
    assert.match(text, /^switchboard_store_rows\{table="queue"\} 0$/m)
    assert.match(text, /^switchboard_store_rows\{table="dedupe"\} 1$/m)
    assert.match(text, /^switchboard_store_rows\{table="finished_requests"\} 1$/m)
    const store = (await d.json("/status")).body.store
    assert.deepInclude(store, { durability: "power", failures: 0, failing: false, lastError: null })
    assert.strictEqual(store.path, `${d.stateDir}/switchboard.db`)
    assert.isAbove(store.schemaVersion, 0)
  }, 30_000)
})
