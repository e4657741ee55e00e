// The bus's pure parts: entry decoding and its reasons, dedupe and delivery ids, the trim point,
// the reconnect backoff, the consumer name, what the URL may show.
import { describe, expect, it } from "vitest"
import { dedupeId, fieldsOf, formatIssues, makeDecoder } from "../../../src/channels/redis/entries.ts"
import { compareIds, consumerName, deliveryId, describeUrl, reconnectDelayMs, trimPoint } from "../../../src/channels/redis/names.ts"
import { outboundFields } from "../../../src/channels/redis/sender.ts"
import { formatStatus } from "../../../src/domain/formatStatus.ts"

const decode = makeDecoder(100)

describe("bus entries", () => {
  it("decodes each type, with defaults left to the handler and unknown fields ignored", () => {
    expect(decode(["type", "message", "source", "redis:ci", "text", "hi", "x-extra", "1"])).toEqual({
      _tag: "Entry",
      entry: { type: "message", source: "redis:ci", text: "hi" }
    })
    expect(decode(["type", "system-event", "sessionKey", "telegram:1", "text", "done", "wake", "false", "contextKey", "job:7"])).toEqual({
      _tag: "Entry",
      entry: { type: "system-event", sessionKey: "telegram:1", text: "done", wake: "false", contextKey: "job:7" }
    })
    expect(decode(["type", "notify", "target", "http:alice", "text", "hi", "id", "n-1"])).toMatchObject({ _tag: "Entry" })
    expect(decode(["type", "check-result", "name", "db", "status", "ok"])).toMatchObject({ _tag: "Entry" })
    expect(decode(["type", "cron.heartbeat", "anything", "goes"])).toEqual({ _tag: "Entry", entry: { type: "cron.heartbeat" } })
  })

  it("says what is wrong, every problem at once", () => {
    expect(decode(["type", "message"])).toEqual({ _tag: "Bad", code: "invalid", reason: "message: source: missing; text: missing" })
    expect(decode(["type", "notify", "target", "nope", "text", "x".repeat(101)])).toEqual({
      _tag: "Bad",
      code: "invalid",
      reason: "notify: target: expected a source of the form <channel>:<peer>, e.g. http:alice; text: expected a text of at most 100 characters"
    })
    expect(decode(["type", "x".repeat(200)])).toMatchObject({ code: "unknown_type", reason: expect.stringMatching(/^unknown type "x{64}" /) })
  })

  it("keeps every value of a repeated field, and refuses the entry", () => {
    expect(fieldsOf(["a", "1", "b", "2", "a", "3"])).toEqual({ a: ["1", "3"], b: "2" })
    expect(decode(["type", "notify", "type", "message"])).toMatchObject({ code: "invalid", reason: "field type given more than once" })
  })

  it("formats Schema messages as path: problem", () => {
    expect(formatIssues("Missing key\n  at [\"a\"]\nExpected x\n  at [\"b\", 0]")).toBe("a: missing; b.0: expected x")
  })

  it("dedupe ids: the publisher's id scoped by source (messages) or type (others), else the stream id", () => {
    const message = { type: "message", source: "redis:ci", text: "hi" } as const
    expect(dedupeId({ ...message, id: "42" }, "1-0")).toBe("redis:ci~42")
    expect(dedupeId(message, "1-0")).toBe("redis:ci~1-0")
    expect(dedupeId({ type: "notify", target: "http:a", text: "x", id: "42" }, "1-0")).toBe("redis:notify~42")
    expect(dedupeId({ type: "system-event", sessionKey: "http:a", text: "x" }, "7-1")).toBe("redis:system-event~7-1")
  })
})

describe("bus names and policies", () => {
  it("a delivery id is stable for the same message and differs for another", () => {
    const reply = { kind: "reply", text: "a", requestId: "r1" } as const
    expect(deliveryId("redis:x", reply)).toBe(deliveryId("redis:x", { ...reply, text: "a rerun's other text" }))
    expect(deliveryId("redis:x", reply)).not.toBe(deliveryId("redis:y", reply))
    expect(deliveryId("redis:x", reply)).not.toBe(deliveryId("redis:x", { ...reply, kind: "error" }))
    const notify = { kind: "notify", text: "one", requestId: "r1" } as const
    expect(deliveryId("redis:x", notify)).not.toBe(deliveryId("redis:x", { ...notify, text: "two" }))
    expect(deliveryId("redis:x", { kind: "ask", text: "q", question: { id: "q-1", options: ["a"] } }))
      .not.toBe(deliveryId("redis:x", { kind: "ask", text: "q", question: { id: "q-2", options: ["a"] } }))
    expect(deliveryId("redis:x", { kind: "notify", text: "no request" })).toBeUndefined()
    expect(deliveryId("redis:x", reply)).toMatch(/^switchboard:delivered:[0-9a-f]{32}$/)
  })

  it("outbound fields: the contract's four, plus a question's id and options", () => {
    expect(outboundFields("redis:x", { kind: "notify", text: "hi" })).toEqual(["target", "redis:x", "requestId", "", "kind", "notify", "text", "hi"])
    expect(outboundFields("redis:x", { kind: "ask", text: "q?", requestId: "r", question: { id: "q-1", options: ["yes", "no"] } }))
      .toEqual(["target", "redis:x", "requestId", "r", "kind", "ask", "text", "q?", "questionId", "q-1", "options", "[\"yes\",\"no\"]"])
  })

  it("trims below the oldest entry any group still needs", () => {
    expect(trimPoint([])).toBeUndefined()
    expect(trimPoint([{ lastDeliveredId: "0-0", lowestPendingId: undefined }])).toBeUndefined()
    expect(trimPoint([{ lastDeliveredId: "9-0", lowestPendingId: undefined }])).toBe("9-0")
    expect(trimPoint([{ lastDeliveredId: "9-0", lowestPendingId: "5-3" }])).toBe("5-3")
    // Another group that has read less holds the trim point back.
    expect(trimPoint([{ lastDeliveredId: "9-0", lowestPendingId: undefined }, { lastDeliveredId: "10-0", lowestPendingId: "3-0" }])).toBe("3-0")
    expect(trimPoint([{ lastDeliveredId: "9-0", lowestPendingId: undefined }, { lastDeliveredId: "0-0", lowestPendingId: undefined }])).toBeUndefined()
    expect(compareIds("10-0", "9-5")).toBe(1)
    expect(compareIds("9-10", "9-9")).toBe(1)
  })

  it("reconnect backoff: 100 ms doubling, capped", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => reconnectDelayMs(n, 5000))).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000])
    expect(reconnectDelayMs(10_000, 30_000)).toBe(30_000)
  })

  it("the consumer name is stable per host and state dir", () => {
    expect(consumerName("box", "/var/lib/switchboard")).toBe(consumerName("box", "/var/lib/switchboard/"))
    expect(consumerName("box", "/a")).not.toBe(consumerName("box", "/b"))
    expect(consumerName("box", "/a")).toMatch(/^box:[0-9a-f]{8}$/)
  })

  it("what the URL may show: never the password", () => {
    expect(describeUrl("redis://user:s3cret@cache.local:6380/2")).toBe("cache.local:6380/2")
    expect(describeUrl("redis://127.0.0.1")).toBe("127.0.0.1:6379/0")
    expect(describeUrl("rediss://:pw@h:1/0")).toBe("rediss://h:1/0")
  })
})

describe("the bus in `switchboard status`", () => {
  const line = (redis: unknown) => formatStatus({ redis }).split("\n").find((l) => l.startsWith("redis"))
  it("one line: up with its consumer, or down since when and why; lag, pending, dead letters", () => {
    expect(line({ state: "up", consumer: "box:1a2b3c4d", server: "127.0.0.1:6379/0", lag: 0, pending: 2, deadLettered: 3 }))
      .toBe("redis     up as box:1a2b3c4d on 127.0.0.1:6379/0; lag 0, pending 2, 3 dead-lettered")
    expect(line({ state: "down", since: "2026-12-01T10:00:00.000Z", lastError: "connect ECONNREFUSED", lag: null, pending: null, deadLettered: 0 }))
      .toBe("redis     down since 2026-12-01T10:00:00.000Z (connect ECONNREFUSED); lag ?, pending ?, 0 dead-lettered")
    expect(formatStatus({})).not.toMatch(/^redis/m)
  })
})
