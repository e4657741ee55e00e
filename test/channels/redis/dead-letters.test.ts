// Bad entries on the bus (BUILT daemon, real Redis DB 2): each kind goes to switchboard:dead with
// its reason, the original fields and its stream id, is acknowledged and counted, and the good
// entry published behind all of them is still answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, startDaemon } from "../../support/daemon.ts"
import { type Bus, connectBus, redisUrl } from "../../support/redis.ts"

const DB = 2
const MAX_TEXT = 1000

/** [what is wrong, the fields as published, what the reason must say]. */
const BAD: ReadonlyArray<readonly [string, ReadonlyArray<string>, RegExp]> = [
  ["no type", ["text", "hello"], /no type field/],
  ["an unknown type", ["type", "mesage", "text", "hello"], /unknown type "mesage"/],
  ["an empty type", ["type", "", "text", "hello"], /unknown type ""/],
  ["a message without a source", ["type", "message", "text", "hello"], /^message: source: missing$/],
  ["a message speaking for another channel", ["type", "message", "source", "telegram:1", "text", "hi"], /source: expected redis:<name>/],
  ["a message with an empty name", ["type", "message", "source", "redis:", "text", "hi"], /source: expected redis:<name>/],
  ["a message without text", ["type", "message", "source", "redis:x"], /^message: text: missing$/],
  ["a blank message", ["type", "message", "source", "redis:x", "text", "   "], /text: expected a text that is not blank/],
  ["a message over the size limit", ["type", "message", "source", "redis:x", "text", "x".repeat(MAX_TEXT + 1)], /text: expected a text of at most 1000 characters/],
  ["a message at command priority", ["type", "message", "source", "redis:x", "text", "hi", "priority", "command"], /priority: expected "human" \| "event"/],
  ["a message with a bad id", ["type", "message", "source", "redis:x", "text", "hi", "id", "has space"], /id: expected an id of 1-128/],
  ["a field given twice", ["type", "message", "source", "redis:x", "text", "a", "text", "b"], /field text given more than once/],
  ["a system-event without a session key", ["type", "system-event", "text", "done"], /^system-event: sessionKey: missing$/],
  ["a system-event with a malformed session key", ["type", "system-event", "sessionKey", "alpha", "text", "done"], /sessionKey: expected a source of the form <channel>:<peer>/],
  ["a system-event for a channel that is not running", ["type", "system-event", "sessionKey", "discord:42", "text", "done"], /no running channel delivers to discord:42/],
  ["a system-event with a bad wake", ["type", "system-event", "sessionKey", "redis:a", "text", "done", "wake", "yes"], /wake: expected "true" \| "false"/],
  ["a system-event with a bad context key", ["type", "system-event", "sessionKey", "redis:a", "text", "done", "contextKey", "a b"], /contextKey: expected a context key/],
  ["a notify without a target", ["type", "notify", "text", "hi"], /^notify: target: missing$/],
  ["a notify to a channel nobody serves", ["type", "notify", "target", "pager:7", "text", "hi"], /no channel can deliver to "pager:7"/],
  ["a notify without text", ["type", "notify", "target", "redis:ops", "text", ""], /text: expected a non-empty text/],
  ["a check-result with an unknown status", ["type", "check-result", "name", "db", "status", "broken"], /status: expected "ok" \| "fail"/]
]

const fieldsJson = (flat: ReadonlyArray<string>) => {
  const out: Record<string, string | Array<string>> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const seen = out[flat[i]!]
    out[flat[i]!] = seen === undefined ? flat[i + 1]! : [...(Array.isArray(seen) ? seen : [seen]), flat[i + 1]!]
  }
  return out
}

describe("bad entries on the bus", () => {
  let bus: Bus
  let daemon: Daemon

  beforeAll(async () => {
    bus = await connectBus(redisUrl(DB))
    daemon = await startDaemon({
      env: { REDIS_URL: bus.url, SWITCHBOARD_MAX_BODY_BYTES: String(MAX_TEXT), SWITCHBOARD_REDIS_BLOCK: "500 millis" }
    })
  })
  afterAll(async () => {
    await daemon?.stop()
    await bus?.close()
  })

  it(`${BAD.length} kinds of bad entries are each dead-lettered with their reason; the good one behind them is answered`, async () => {
    expect(BAD.length).toBeGreaterThanOrEqual(20)
    const ids: Array<string> = []
    for (const [, fields] of BAD) ids.push(await bus.publish(fields))
    await bus.publish({ type: "message", source: "redis:good", text: "still there?", id: "good-1" })

    const reply = await bus.waitOutbound((e) => e.fields["requestId"] === "redis:good~good-1")
    expect(reply.fields["text"]).toBe("echo: still there?")

    const dead = await bus.waitDead(BAD.length)
    expect(dead).toHaveLength(BAD.length)
    BAD.forEach(([what, fields, reason], i) => {
      const entry = dead[i]!
      expect(entry.fields["streamId"], what).toBe(ids[i])
      expect(entry.fields["reason"], what).toMatch(reason)
      expect(JSON.parse(entry.fields["entry"]!), what).toEqual(fieldsJson(fields))
    })

    // Every bad entry was acknowledged: nothing pending, and the daemon is healthy.
    expect(Number((await bus.redis.xpending("switchboard:inbound", "switchboard"))[0])).toBe(0)
    // /status refreshes its Redis figures about every second.
    const status = await eventually(async () => {
      const s = (await daemon.json("/status")).body
      return s.redis.deadStream === BAD.length ? s : undefined
    })
    expect(status.redis).toMatchObject({ pending: 0, deadLettered: BAD.length })
    expect((await daemon.json("/health")).body.checks.redis.status).toBe("pass")

    const metrics = await (await daemon.fetch("/metrics")).text()
    const count = (code: string) =>
      Number(new RegExp(`switchboard_redis_dead_letters_total\\{code="${code}"\\} (\\d+)`).exec(metrics)?.[1] ?? -1)
    expect(count("unknown_type")).toBe(2)
    expect(count("unknown_target")).toBe(2)
    expect(count("invalid")).toBe(BAD.length - 4)
    expect(count("too_many_deliveries")).toBe(0)
  })
})
