// Pure parts of the Discord channel: rendering, chunking, buttons, who may talk, addresses, backoff.
import { describe, expect, it } from "vitest"
import { answeredRows, decodeAnswer, encodeAnswer, questionRows } from "../../../src/channels/discord/buttons.ts"
import { chunkMarkdown } from "../../../src/channels/discord/chunk.ts"
import type { Message } from "../../../src/channels/discord/events.ts"
import { reconnectDelayMs } from "../../../src/channels/discord/gatewayPolicy.ts"
import { snowflakeAt } from "../../../src/channels/discord/inbound.ts"
import { placeOf } from "../../../src/channels/discord/places.ts"
import { type AccessLists, decide, withoutMention } from "../../../src/channels/discord/policy.ts"
import { renderMarkdown } from "../../../src/channels/discord/render.ts"
import { parseTarget, sourceOf } from "../../../src/channels/discord/target.ts"

const fences = (s: string) => (s.match(/^\s{0,3}(`{3,}|~{3,})/gm) ?? []).length

/** The chunks joined back, without the fences added at cuts: what the reader reads, in order. */
const rejoin = (chunks: ReadonlyArray<string>) =>
  chunks.join("\n").replace(/\n(`{3,}|~{3,})\n\1[^\n]*\n/g, "\n").replace(/\s+/g, " ").trim()

describe("Discord chunking", () => {
  it("a short reply is one chunk, unchanged", () => {
    expect(chunkMarkdown("hello **there**")).toEqual(["hello **there**"])
    expect(chunkMarkdown("")).toEqual([])
  })

  it("cuts at a paragraph before a line, at a line before a word, and never mid-word", () => {
    const paragraphs = Array.from({ length: 6 }, (_, i) => `p${i} ` + "word ".repeat(70).trim()).join("\n\n")
    const chunks = chunkMarkdown(paragraphs, 1000)
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(1000)
      expect(c.endsWith("word")).toBe(true)
      expect(c.startsWith("p")).toBe(true)
    }
    const line = "x".repeat(30) + " " + "y".repeat(30)
    expect(chunkMarkdown(line, 40)).toEqual(["x".repeat(30), "y".repeat(30)])
  })

  it("keeps a code block whole when it fits in a message, rather than cutting it", () => {
    const text = "intro ".repeat(200).trim() + "\n\n```ts\n" + "let a = 1\n".repeat(100) + "```\n\nafter"
    const chunks = chunkMarkdown(text, 2000)
    expect(chunks.length).toBe(2)
    expect(chunks[0]!.endsWith("intro")).toBe(true)
    expect(chunks[1]).toBe("```ts\n" + "let a = 1\n".repeat(100) + "```\n\nafter")
  })

  it("a code block longer than a message is closed and reopened with its language at each cut", () => {
    const code = Array.from({ length: 400 }, (_, i) => `line ${i}: ${"z".repeat(20)}`).join("\n")
    const text = `Here:\n\n\`\`\`python\n${code}\n\`\`\`\n\nDone.`
    const chunks = chunkMarkdown(text, 2000)
    expect(chunks.length).toBeGreaterThan(5)
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(2000)
      expect(fences(c) % 2).toBe(0)
    }
    expect(chunks.slice(1, -1).every((c) => c.startsWith("```python\n") && c.endsWith("\n```"))).toBe(true)
    expect(rejoin(chunks)).toBe(text.replace(/\s+/g, " ").trim())
  })

  it("10,000 characters of mixed prose and code: every piece fits, every fence balances, nothing is lost", () => {
    const parts: Array<string> = []
    for (let i = 0; parts.join("\n\n").length < 10_000; i++) {
      parts.push(i % 3 === 2
        ? "```js\n" + Array.from({ length: 10 + (i * 7) % 60 }, (_, j) => `call(${i}, ${j})`).join("\n") + "\n```"
        : `Section ${i}: ` + "lorem ipsum dolor ".repeat(5 + (i * 13) % 40))
    }
    const text = parts.join("\n\n")
    const chunks = chunkMarkdown(text)
    for (const c of chunks) {
      expect(c.length).toBeLessThanOrEqual(2000)
      expect(fences(c) % 2).toBe(0)
    }
    expect(rejoin(chunks)).toBe(text.replace(/\s+/g, " ").trim())
  })

  it("a single line longer than a message is split, an emoji is never halved", () => {
    const text = "😀".repeat(1500)
    const chunks = chunkMarkdown(text, 2000)
    expect(chunks.join("")).toBe(text)
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(2000)
  })
})

describe("Discord rendering", () => {
  it("leaves what Discord renders alone and rewrites what it would show raw", () => {
    expect(renderMarkdown("**b** *i* ~~s~~ `c` [l](https://x.y)\n# H1\n> q")).toBe("**b** *i* ~~s~~ `c` [l](https://x.y)\n# H1\n> q")
    expect(renderMarkdown("#### deep")).toBe("**deep**")
    expect(renderMarkdown("a\n\n---\n\nb")).toBe("a\n\n──────────\n\nb")
    expect(renderMarkdown("![diagram](https://x.y/d.png)")).toBe("[diagram](https://x.y/d.png)")
    expect(renderMarkdown("| a | b |\n|---|---|\n| 1 | 22 |")).toBe("```\na | b\n1 | 22\n```")
  })

  it("never touches code, and closes a fence the model left open", () => {
    expect(renderMarkdown("```\n#### not a heading\n---\n```")).toBe("```\n#### not a heading\n---\n```")
    expect(renderMarkdown("```sh\nls")).toBe("```sh\nls\n```")
  })
})

describe("Discord buttons", () => {
  it("one button per option, five to a row; the custom id names question and option", () => {
    const rows = questionRows("q-1", ["a", "b", "c", "d", "e", "f"])!
    expect(rows.map((r) => r.components.length)).toEqual([5, 1])
    expect(decodeAnswer(rows[1]!.components[0]!.custom_id)).toEqual({ questionId: "q-1", index: 5 })
    const answered = answeredRows(rows, 5)
    expect(answered.flat().every((r) => r.components.every((b) => b.disabled === true))).toBe(true)
    expect(answered[1]!.components[0]!.style).toBe(3)
  })

  it("options that cannot be buttons leave the question to a typed answer", () => {
    expect(questionRows("q", [])).toBeUndefined()
    expect(questionRows("q", Array.from({ length: 26 }, (_, i) => `o${i}`))).toBeUndefined()
    expect(questionRows("q", ["  "])).toBeUndefined()
    expect(encodeAnswer("q".repeat(100), 1)).toBeUndefined()
    expect(questionRows("q", ["x".repeat(200)])![0]!.components[0]!.label.length).toBe(80)
    expect(decodeAnswer("something else")).toBeUndefined()
  })
})

const message = (over: Partial<Message> = {}): Message => ({
  id: "1",
  channel_id: "100",
  guild_id: "700",
  author: { id: "1001", username: "alice" },
  content: "hi",
  type: 0,
  mentions: [],
  ...over
})
const lists = (over: Partial<AccessLists> = {}): AccessLists => ({
  channels: new Set(["100"]),
  users: new Set(["1001"]),
  requireMention: false,
  ...over
})

describe("Discord allowlist", () => {
  const inChannel = { channelId: "100", dm: false }
  const elsewhere = { channelId: "555", dm: false }
  it("allowed channel: every message; with DISCORD_REQUIRE_MENTION only mentions", () => {
    expect(decide(message({ author: { id: "42" } }), inChannel, "900", lists())._tag).toBe("Accept")
    expect(decide(message(), inChannel, "900", lists({ requireMention: true }))).toEqual({ _tag: "Ignore", reason: "not_addressed" })
    expect(decide(message({ content: "<@900> hi", mentions: [{ id: "900" }] }), inChannel, "900", lists({ requireMention: true })))
      .toEqual({ _tag: "Accept", text: "hi" })
  })

  it("other server channels: an allowed user who mentions the bot; others are denied or not addressed", () => {
    expect(decide(message({ content: "<@900> /stop", mentions: [{ id: "900" }] }), elsewhere, "900", lists()))
      .toEqual({ _tag: "Accept", text: "/stop" })
    expect(decide(message(), elsewhere, "900", lists())).toEqual({ _tag: "Ignore", reason: "not_addressed" })
    expect(decide(message({ author: { id: "9" }, content: "<@!900> hey" }), elsewhere, "900", lists())._tag).toBe("Deny")
  })

  it("DMs: allowed users only; bots, webhooks, the bot itself and system messages are ignored", () => {
    const dm = { channelId: "800", dm: true }
    expect(decide(message({ guild_id: undefined }), dm, "900", lists())._tag).toBe("Accept")
    expect(decide(message({ author: { id: "9" } }), dm, "900", lists())._tag).toBe("Deny")
    expect(decide(message({ author: { id: "900" } }), inChannel, "900", lists())).toEqual({ _tag: "Ignore", reason: "self" })
    expect(decide(message({ author: { id: "5", bot: true } }), inChannel, "900", lists())).toEqual({ _tag: "Ignore", reason: "bot" })
    expect(decide(message({ webhook_id: "77" }), inChannel, "900", lists())).toEqual({ _tag: "Ignore", reason: "bot" })
    expect(decide(message({ type: 7 }), inChannel, "900", lists())).toEqual({ _tag: "Ignore", reason: "system" })
  })

  it("everything is denied by default", () => {
    const none = lists({ channels: new Set(), users: new Set() })
    expect(decide(message({ content: "<@900> hi", mentions: [{ id: "900" }] }), inChannel, "900", none)._tag).toBe("Deny")
    expect(decide(message(), { channelId: "800", dm: true }, "900", none)._tag).toBe("Deny")
  })

  it("mentions are taken out of the text", () => {
    expect(withoutMention("<@900>  hello <@!900>", "900")).toBe("hello")
  })
})

describe("Discord addresses and gateway policy", () => {
  it("sources name the channel, and the thread with its parent", () => {
    expect(sourceOf({ channelId: "100" })).toBe("discord:100")
    expect(sourceOf({ channelId: "100", threadId: "300" })).toBe("discord:100:thread:300")
    expect(parseTarget("discord:100:thread:300")).toEqual({ channelId: "100", threadId: "300" })
    expect(parseTarget("discord:abc")).toBeUndefined()
    expect(parseTarget("telegram:100")).toBeUndefined()
    expect(placeOf("300", { id: "300", type: 11, parent_id: "100" }, true)).toEqual({ channelId: "100", threadId: "300", dm: false })
    expect(placeOf("800", undefined, false)).toEqual({ channelId: "800", dm: true })
  })

  it("reconnects back off from about a second to at most a minute", () => {
    expect(reconnectDelayMs(0, 0.5)).toBe(0)
    expect(reconnectDelayMs(1, 1)).toBe(1000)
    expect(reconnectDelayMs(1, 0)).toBe(500)
    expect(reconnectDelayMs(4, 1)).toBe(8000)
    expect(reconnectDelayMs(30, 1)).toBe(60_000)
  })

  it("a snowflake of a moment orders with the ids of messages written after it", () => {
    const id = ((BigInt(1_800_000_000_000) - 1_420_070_400_000n) << 22n) | 5n
    expect(BigInt(snowflakeAt(1_800_000_000_000)) < id).toBe(true)
    expect(BigInt(snowflakeAt(1_800_000_000_001)) > id).toBe(true)
  })
})
