// Pure parts of the Slack channel: Markdown → mrkdwn, chunking by Slack's limit.
import { assert, describe, it } from "@effect/vitest"
import { chunkMrkdwn, SLACK_LIMIT } from "../../../src/channels/slack/chunk.ts"
import { FENCE_LINE, renderMrkdwn } from "../../../src/channels/slack/render.ts"
import { longSlackReply } from "../../support/longReply.ts"

const fences = (chunk: string) => chunk.split("\n").filter((l) => l === FENCE_LINE).length

/** The code blocks of rendered mrkdwn, each as its body. */
const codeBlocks = (text: string): Array<string> => {
  const blocks: Array<string> = []
  let current: Array<string> | undefined
  for (const line of text.split("\n")) {
    if (line === FENCE_LINE) {
      if (current === undefined) current = []
      else {
        blocks.push(current.join("\n"))
        current = undefined
      }
    } else current?.push(line)
  }
  return blocks
}

describe("renderMrkdwn", () => {
  it("renders the usual Markdown as mrkdwn and escapes &, < and >", () => {
    assert.strictEqual(
      renderMrkdwn("# Title\nSome **bold**, *it*, _it_, ~~gone~~, `a<b>` and [docs](https://x.dev/?a=1&b=2) <!channel> & <@U1>"),
      "*Title*\nSome *bold*, _it_, _it_, ~gone~, `a&lt;b&gt;` and <https://x.dev/?a=1&amp;b=2|docs> &lt;!channel&gt; &amp; &lt;@U1&gt;"
    )
  })

  it("keeps code blocks verbatim (escaped, unformatted, without the language) and breaks up a fence inside", () => {
    assert.strictEqual(
      renderMrkdwn("```python\nif a < b and **x**:\n    print('```')\n```"),
      "```\nif a &lt; b and **x**:\n    print('`\u200b``')\n```"
    )
  })

  it("lists, quotes, rules and tables degrade readably; snake_case and 2*3*4 stay text", () => {
    assert.strictEqual(renderMrkdwn("- one\n  * two\n> quoted **b**\n---"), "• one\n  • two\n> quoted *b*\n──────────")
    assert.strictEqual(renderMrkdwn("my_var_name and 2*3*4"), "my_var_name and 2*3*4")
    assert.strictEqual(renderMrkdwn("| a | bb |\n|---|---|\n| ccc | d |"), "```\na   | bb\nccc | d\n```")
  })

  it("a link to anything but http(s)/mailto stays text; a mark inside a word gets a zero-width edge", () => {
    assert.strictEqual(renderMrkdwn("[x](javascript:alert(1))"), "[x](javascript:alert(1))")
    assert.strictEqual(renderMrkdwn("un**believ**able"), "un\u200b*believ*\u200bable")
  })
})

describe("chunkMrkdwn", () => {
  it("a 10,000-character reply with code blocks: every message within the limit, code never cut when it fits, nothing lost", () => {
    const markdown = longSlackReply(10_000)
    const rendered = renderMrkdwn(markdown)
    const chunks = chunkMrkdwn(rendered)
    assert.isAbove(chunks.length, 3)
    for (const c of chunks) {
      assert.isAtMost(c.length, SLACK_LIMIT)
      assert.strictEqual(fences(c) % 2, 0, `unbalanced code block in:\n${c.slice(0, 200)}`)
    }
    // Every code block that fits in one message arrives whole in one message.
    const sent = chunks.flatMap(codeBlocks)
    for (const block of codeBlocks(rendered)) {
      if (block.length + 8 <= SLACK_LIMIT) assert.include(sent, block)
    }
    // The long block (160 lines) is split into blocks that together are the original.
    const long = codeBlocks(rendered).find((b) => b.length > SLACK_LIMIT)!
    assert.isDefined(long)
    assert.include(sent.join("\n"), long.split("\n").slice(0, 3).join("\n"))
    const words = (s: string) => s.split(/\s+/).filter((w) => w !== "" && w !== FENCE_LINE)
    assert.deepStrictEqual(words(chunks.join("\n")), words(rendered))
  })

  it("without blank lines to cut at, code blocks still move whole to the next message", () => {
    const block = (n: number, lines: number) =>
      ["```", ...Array.from({ length: lines }, (_, i) => `block ${n} line ${i} ${"x".repeat(30)}`), "```"].join("\n")
    const rendered = [1, 2, 3, 4, 5, 6].map((n) => `intro ${n}\n${block(n, n === 3 ? 20 : 12)}`).join("\n")
    const chunks = chunkMrkdwn(rendered, 1000)
    const sent = chunks.flatMap(codeBlocks)
    assert.deepStrictEqual(sent, codeBlocks(rendered))
    for (const c of chunks) assert.isAtMost(c.length, 1000)
    // A long block after a short intro: the intro goes alone rather than the block being cut.
    const lone = `${"z".repeat(120)}\n${block(9, 20)}`
    assert.deepStrictEqual(chunkMrkdwn(lone, 1000).flatMap(codeBlocks), codeBlocks(lone))
  })

  it("a code block longer than a message is closed and reopened at the cut", () => {
    const body = Array.from({ length: 60 }, (_, i) => `line ${i} ${"y".repeat(40)}`)
    const chunks = chunkMrkdwn(["before", "```", ...body, "```", "after"].join("\n"), 1000)
    assert.isAbove(chunks.length, 2)
    for (const c of chunks) {
      assert.isAtMost(c.length, 1000)
      assert.strictEqual(fences(c) % 2, 0)
    }
    assert.deepStrictEqual(chunks.flatMap(codeBlocks).join("\n").split("\n"), body)
  })

  it("prefers a paragraph break and leaves short text alone", () => {
    assert.deepStrictEqual(chunkMrkdwn("hello"), ["hello"])
    const a = "a".repeat(60), b = "b".repeat(30)
    assert.deepStrictEqual(chunkMrkdwn(`${a}\n\n${b}\n${b}`, 100), [a, `${b}\n${b}`])
  })

  it("a line longer than a message is broken at a space, never inside an escape", () => {
    const chunks = chunkMrkdwn(`${"word ".repeat(50)}${"&amp;".repeat(30)}`, 60)
    for (const c of chunks) {
      assert.isAtMost(c.length, 60)
      assert.notMatch(c, /&(a|am|amp)?$/)
    }
  })
})
