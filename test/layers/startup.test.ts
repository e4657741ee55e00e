// Turning configuration into values and start-up failures into one printable line. Pure.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { reloadHeartbeatSettings } from "../../src/heartbeat/loadSettings.ts"
import { configFileValue, shownValue } from "../../src/config/environment.ts"

describe("start-up configuration", () => {
  it("never prints a secret, and masks the credentials of URL-like values, malformed ones included", () => {
    assert.isUndefined(shownValue("SWITCHBOARD_API_TOKEN", "abc"))
    assert.isUndefined(shownValue("OPENAI_API_KEY", "sk-1"))
    assert.strictEqual(shownValue("REDIS_URL", "redis://u:pw@host:6379"), "redis://…@host:6379")
    assert.strictEqual(shownValue("REDIS_URL", "redis//default:pw@host"), "…@host")
    assert.strictEqual(shownValue("SWITCHBOARD_HTTP_PORT", "abc"), "abc")
  })

  it("reads config-file values as the environment would hold them; null is unset, never \"null\"", () => {
    assert.isUndefined(configFileValue(null))
    assert.strictEqual(configFileValue("x"), "x")
    assert.strictEqual(configFileValue(8080), "8080")
    assert.strictEqual(configFileValue(true), "true")
    assert.strictEqual(configFileValue(["make", "git"]), "make,git")
    assert.isNull(configFileValue({ nested: 1 }))
    assert.strictEqual(configFileValue([111, 222]), "111,222")
    assert.isNull(configFileValue([{ id: 1 }]))
  })

  it.effect("a reload with a bad variable names it once, plainly", () =>
    Effect.gen(function*() {
      const error = yield* reloadHeartbeatSettings({ SWITCHBOARD_HEARTBEAT_EVERY: "soon" }).pipe(Effect.flip)
      assert.strictEqual(error.variable, "SWITCHBOARD_HEARTBEAT_EVERY")
      assert.match(error.message, /^SWITCHBOARD_HEARTBEAT_EVERY: .*\(got "soon"\)$/)
    }))
})
