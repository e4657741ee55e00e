// The pure parts of checks: the state machine (failAfter, flap damping, cooldown), triage rules and
// the storm limit, quiet-hours arithmetic, signatures, webhook templates, digest grouping and
// chunking, and the checks file's validation.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { parseChecksFile } from "../../src/checks/checkFile.ts"
import { groupItems, renderDigest, renderedLength, type DigestItem } from "../../src/checks/digestRender.ts"
import { isQuiet, msUntilQuietEnds, parseQuietHours } from "../../src/checks/quietHours.ts"
import { eventText, hmacHex, verifySignature } from "../../src/checks/signature.ts"
import { initialMachine, type Machine, type Policy, step, type Transition } from "../../src/checks/stateMachine.ts"
import { decide, stormAllows, type TriageItem } from "../../src/checks/triageRules.ts"
import { chunkHtml } from "../../src/channels/telegram/chunk.ts"
import { renderMarkdown } from "../../src/channels/telegram/render.ts"

const policy: Policy = { failAfter: 2, flapFlips: 3, flapWindowMs: 60_000, cooldownMs: 0 }

/** Feed results (true = ok) one per `every` ms; collect every transition with its time. */
const run = (results: ReadonlyArray<boolean>, p: Policy = policy, every = 1000, start: Machine = initialMachine(0)) => {
  let m = start
  const out: Array<Transition & { at: number }> = []
  results.forEach((ok, i) => {
    const at = (i + 1) * every
    const r = step(m, { ok, detail: ok ? "fine" : "down" }, at, p)
    m = r.machine
    out.push(...r.transitions.map((t) => ({ ...t, at })))
  })
  return { machine: m, transitions: out }
}

describe("check state machine", () => {
  it("counts as failing only after failAfter failures in a row, and recovers on the next ok", () => {
    const { transitions } = run([true, false, true, false, false, false, true])
    expect(transitions.map((t) => [t.event, t.at])).toEqual([["failing", 5000], ["recovered", 7000]])
    const failing = transitions[0]!
    expect(failing.event === "failing" && [failing.failures, failing.since]).toEqual([2, 4000])
    const recovered = transitions[1]!
    expect(recovered.event === "recovered" && recovered.downMs).toBe(2000)
  })

  it("a healthy start is not a change; a failing start is", () => {
    expect(run([true, true]).transitions).toEqual([])
    expect(run([false, false]).transitions.map((t) => t.event)).toEqual(["failing"])
  })

  it("a forced result (silence) is failing at once", () => {
    const r = step(initialMachine(0), { ok: false, detail: "silent", force: true }, 10, policy)
    expect(r.transitions.map((t) => t.event)).toEqual(["failing"])
  })

  it("more than N changes in the window: one flapping report, then the digest, then settled once steady", () => {
    const p: Policy = { failAfter: 1, flapFlips: 3, flapWindowMs: 10_000, cooldownMs: 0 }
    // ok, then flip every second 6 times, then steady ok for 12 s.
    const { transitions, machine } = run([true, false, true, false, true, false, true, ...Array(12).fill(true)], p)
    const events = transitions.map((t) => [t.event, t.route.to])
    expect(events).toEqual([
      ["failing", "triage"],
      ["recovered", "triage"],
      ["failing", "triage"],
      ["flapping", "triage"],
      ["failing", "digest"],
      ["recovered", "digest"],
      ["settled", "triage"]
    ])
    expect(machine.flapping).toBe(false)
  })

  it("a failure within the cooldown of the last alert goes to the digest, and so does its recovery", () => {
    const p: Policy = { failAfter: 1, flapFlips: 100, flapWindowMs: 60_000, cooldownMs: 5000 }
    const { transitions } = run([true, false, true, false, true, true, true, true, true, false, true], p)
    expect(transitions.map((t) => [t.event, t.at, t.route.to])).toEqual([
      ["failing", 2000, "triage"],
      ["recovered", 3000, "triage"],
      ["failing", 4000, "digest"],
      ["recovered", 5000, "digest"],
      ["failing", 10000, "triage"],
      ["recovered", 11000, "triage"]
    ])
  })
})

const item = (over: Partial<TriageItem> = {}): TriageItem => ({
  kind: "check",
  name: "db-backup",
  source: "check:db-backup",
  severity: "warning",
  event: "failing",
  target: "http:me",
  text: "db-backup is failing",
  at: 0,
  ...over
})

describe("triage rules", () => {
  it("first match wins; the defaults come after the file's rules", () => {
    const rules = [
      { name: "db-*", severity: "critical" as const, action: "notify" as const },
      { kind: "check" as const, name: "db-*", action: "digest" as const },
      { kind: "check" as const, action: "suppress" as const }
    ]
    expect(decide(rules, item({ severity: "critical" }))).toEqual({ action: "notify", rule: "triage[0]" })
    expect(decide(rules, item())).toEqual({ action: "digest", rule: "triage[1]" })
    expect(decide(rules, item({ name: "web" }))).toEqual({ action: "suppress", rule: "triage[2]" })
    expect(decide(rules, item({ kind: "webhook", name: "ci" }))).toEqual({ action: "immediate", rule: "default" })
    expect(decide([], item({ severity: "info" }))).toEqual({ action: "digest", rule: "default" })
    expect(decide([{ source: "webhook:*", event: "delivery", action: "notify" }], item({ kind: "webhook", source: "webhook:ci", event: "delivery" })).action).toBe("notify")
  })

  it("the storm limit lets K through per window, then refuses until the window moves on", () => {
    let sent: ReadonlyArray<number> = []
    const allowed: Array<boolean> = []
    for (const at of [0, 1, 2, 3, 50, 101, 102]) {
      const r = stormAllows(sent, at, 3, 100)
      sent = r.sent
      allowed.push(r.allowed)
    }
    expect(allowed).toEqual([true, true, true, false, false, true, true])
  })
})

describe("quiet hours", () => {
  const at = (iso: string) => Date.parse(iso)
  it("a range over midnight, in the time zone given", () => {
    const q = parseQuietHours("23:00-07:00", "Europe/Berlin")! // UTC+1 in January
    expect(isQuiet(q, at("2026-01-10T21:59:00Z"))).toBe(false)
    expect(isQuiet(q, at("2026-01-10T22:00:00Z"))).toBe(true)
    expect(isQuiet(q, at("2026-01-11T05:59:00Z"))).toBe(true)
    expect(isQuiet(q, at("2026-01-11T06:00:00Z"))).toBe(false)
    expect(msUntilQuietEnds(q, at("2026-01-11T04:30:00Z"))).toBe(90 * 60_000)
    expect(msUntilQuietEnds(q, at("2026-01-11T12:00:00Z"))).toBe(0)
  })
  it("a range within one day", () => {
    const q = parseQuietHours("12:00-13:30", "UTC")!
    expect([isQuiet(q, at("2026-01-11T11:59:59Z")), isQuiet(q, at("2026-01-11T12:00:00Z")), isQuiet(q, at("2026-01-11T13:30:00Z"))])
      .toEqual([false, true, false])
    expect(parseQuietHours("07:00-07:00", "UTC")).toBeUndefined()
  })
})

describe("webhook signatures and templates", () => {
  const body = Buffer.from(JSON.stringify({ action: "completed", repository: { full_name: "me/app" } }))
  it("github: sha256=<hmac of the raw body>; anything else is refused", () => {
    const good = `sha256=${hmacHex("s3cret", body)}`
    expect(verifySignature("github", "s3cret", body, good)).toBe("ok")
    expect(verifySignature("github", "other", body, good)).toBe("mismatch")
    expect(verifySignature("github", "s3cret", Buffer.concat([body, Buffer.from(" ")]), good)).toBe("mismatch")
    expect(verifySignature("github", "s3cret", body, hmacHex("s3cret", body))).toBe("mismatch") // no prefix
    expect(verifySignature("github", "s3cret", body, undefined)).toBe("missing")
  })
  it("hmac-sha256 with or without the prefix; token equal to the secret", () => {
    expect(verifySignature("hmac-sha256", "k", body, hmacHex("k", body))).toBe("ok")
    expect(verifySignature("hmac-sha256", "k", body, `sha256=${hmacHex("k", body)}`)).toBe("ok")
    expect(verifySignature("token", "tok", body, "tok")).toBe("ok")
    expect(verifySignature("token", "tok", body, "tok2")).toBe("mismatch")
  })
  it("templates fill paths; fields list values; missing values show as ?", () => {
    const payload = JSON.parse(body.toString())
    expect(eventText(payload, "{{repository.full_name}}: {{action}} ({{nope}})", [])).toBe("me/app: completed (?)")
    expect(eventText(payload, undefined, ["action", "repository.full_name"])).toBe("action: completed\nrepository.full_name: me/app")
  })
})

const digestItem = (i: number, group: string, over: Partial<DigestItem> = {}): DigestItem => ({
  seq: i,
  target: "telegram:1",
  group,
  severity: "warning",
  at: Date.parse("2026-01-11T10:00:00Z") + i * 60_000,
  text: `${group} event ${i}`,
  why: "rule",
  ...over
})
const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16)

describe("digest rendering", () => {
  it("groups by check with counts, first and last time, the latest lines, worst first", () => {
    const items = [
      digestItem(1, "check web"),
      digestItem(2, "check db", { severity: "critical", why: "flapping" }),
      digestItem(3, "check web"),
      digestItem(4, "check web", { why: "storm" }),
      digestItem(5, "check web")
    ]
    const groups = groupItems(items)
    expect(groups.map((g) => [g.group, g.count])).toEqual([["check db", 1], ["check web", 4]])
    const [text] = renderDigest(items, { markdown: false, maxChars: undefined }, hhmm)
    expect(text).toContain("Digest: 5 items in 2 groups, 10:01–10:05")
    expect(text).toContain("check web (warning): 4×, 10:01–10:05 — 1 over the alert limit")
    expect(text).toContain("check db (critical): 1×, 10:02 — 1 while flapping")
    expect(text).toContain("… 1 earlier")
    expect(text!.indexOf("check db")).toBeLessThan(text!.indexOf("check web ("))
  })

  it("nothing to say: no message", () => {
    expect(renderDigest([], { markdown: true, maxChars: 4096 }, hhmm)).toEqual([])
  })

  it("past Telegram's 4096: parts that each fit once rendered as HTML, every group in them", () => {
    const items = Array.from({ length: 400 }, (_, i) => digestItem(i, `check c${i % 80}_x`, { text: `a <b> & c_${i} `.repeat(4) }))
    const parts = renderDigest(items, { markdown: true, maxChars: 4096 }, hhmm)
    expect(parts.length).toBeGreaterThan(1)
    for (const [i, part] of parts.entries()) {
      const html = renderMarkdown(part)
      expect(html.length).toBeLessThanOrEqual(4096)
      expect(chunkHtml(html)).toHaveLength(1) // the channel would not split it again
      expect(part.endsWith(`(${i + 1}/${parts.length})`)).toBe(true)
      expect(renderedLength(part, { markdown: true, maxChars: 4096 })).toBeLessThanOrEqual(4096)
    }
    const all = parts.map(renderMarkdown).join("\n")
    for (let g = 0; g < 80; g++) expect(all).toContain(`check c${g}_x (warning)`)
  })
})

describe("the checks file", () => {
  const context = { alertTarget: "http:me", redisConfigured: false, hasVariable: (v: string) => v === "CI_SECRET" }
  it("applies the documented defaults", () => {
    const plan = parseChecksFile(JSON.stringify({ checks: [{ name: "web", kind: "http", url: "http://x/" }] }), context)
    expect(typeof plan === "string" ? plan : plan.checks[0]).toMatchObject({
      name: "web",
      everyMs: 60_000,
      timeoutMs: 10_000,
      failAfter: 2,
      severity: "warning",
      target: "http:me",
      cooldownMs: 15 * 60_000,
      probe: { kind: "http", url: "http://x/", status: 200 }
    })
  })
  it("says what is wrong, and where", () => {
    const bad = (file: unknown, ctx = context) => parseChecksFile(JSON.stringify(file), ctx) as string
    expect(bad({ checks: [{ name: "a", kind: "http", url: "ftp://x" }] })).toMatch(/http\(s\) URL/)
    expect(bad({ checks: [{ name: "a", kind: "tcp", host: "h", port: 1 }, { name: "a", kind: "tcp", host: "h", port: 2 }] }))
      .toMatch(/checks\[1\] \(a\): the name a is used twice/)
    expect(bad({ checks: [{ name: "a", kind: "tcp", host: "h", port: 1 }] }, { ...context, alertTarget: undefined as never }))
      .toMatch(/no "target", and SWITCHBOARD_ALERT_TARGET is not set/)
    expect(bad({ checks: [{ name: "a", kind: "redis", key: "k" }] })).toMatch(/needs REDIS_URL/)
    expect(bad({ hooks: [{ name: "h", secret: "NOPE", signature: "github" }] })).toMatch(/NOPE \(its secret\) is not set/)
    expect(bad({ checks: [{ name: "a", kind: "http", url: "http://x", every: "soon" }] })).toMatch(/a duration/)
    expect(bad({ checks: [], extra: 1 })).toMatch(/extra/)
    expect(parseChecksFile("{", context)).toMatch(/not valid JSON/)
  })
})

describe("the README's example checks file", () => {
  it("is valid as printed", () => {
    const readme = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8")
    const section = readme.slice(readme.indexOf("## Background checks, triage and the digest"))
    const json = /```json\n([\s\S]*?)```/.exec(section)![1]!
    const plan = parseChecksFile(json, { alertTarget: "telegram:1", redisConfigured: true, hasVariable: (v) => v === "GITHUB_WEBHOOK_SECRET" })
    if (typeof plan === "string") throw new Error(plan)
    expect(plan.checks.map((c) => c.probe.kind)).toEqual(["http", "tcp", "command", "file-age", "redis-lag", "push"])
    expect(plan.hooks.map((h) => h.name)).toEqual(["ci"])
    expect(plan.rules).toHaveLength(3)
  })
})
