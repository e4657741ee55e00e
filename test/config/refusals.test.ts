// Configuration the built daemon refuses, and how it says so: exit 2, one line naming the variable,
// never a secret.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { runDaemonToExit } from "../support/daemon.ts"

describe("configuration refused at start", () => {
  // The start-up failure line once appended `(got "<value>")` with the raw value. REDIS_URL (like
  // OTEL_EXPORTER_OTLP_ENDPOINT and OPENAI_BASE_URL) routinely carries credentials: one typo and the
  // password was printed to the journal, and by the watchdog every minute.
  it("a malformed REDIS_URL stops the daemon without printing the password it contains", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
    try {
      const r = await runDaemonToExit({
        SWITCHBOARD_STATE_DIR: stateDir,
        REDIS_URL: "redis//default:hunter2-s3cret@redis.internal:6379/0"
      })
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "REDIS_URL")
      assert.notInclude(r.stderr + r.stdout, "hunter2-s3cret")
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  // A config-file value that is not a string was once JSON.stringified, so `null` (the natural way to
  // write "not set" in a JSON template) became the string "null": with `"SWITCHBOARD_API_TOKEN": null`
  // the daemon started on a public host and `Authorization: Bearer null` was let in.
  it("a JSON config file with \"SWITCHBOARD_API_TOKEN\": null on a public host is refused like a missing token", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
    const file = join(stateDir, "config.json")
    writeFileSync(file, JSON.stringify({ SWITCHBOARD_HTTP_HOST: "0.0.0.0", SWITCHBOARD_API_TOKEN: null }))
    try {
      const r = await runDaemonToExit({ SWITCHBOARD_STATE_DIR: stateDir, SWITCHBOARD_CONFIG_FILE: file })
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "SWITCHBOARD_API_TOKEN")
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })

  it("a cluster Postgres that does not answer stops the start with one line naming it, without its password", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), "switchboard-test-"))
    try {
      const r = await runDaemonToExit({
        SWITCHBOARD_STATE_DIR: stateDir,
        SWITCHBOARD_CLUSTER_DATABASE_URL: "postgres://switchboard:hunter2-s3cret@127.0.0.1:1/switchboard"
      })
      assert.notStrictEqual(r.code, 0)
      assert.include(r.stderr, "the cluster's Postgres (127.0.0.1:1/switchboard, SWITCHBOARD_CLUSTER_DATABASE_URL) does not answer")
      assert.notInclude(r.stderr + r.stdout, "hunter2-s3cret")
    } finally {
      rmSync(stateDir, { recursive: true, force: true })
    }
  })
})
