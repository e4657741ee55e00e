// Pure parts of the Telegram channel: Markdown → Telegram HTML, chunking, callback data, pacing,
// targets.
import { assert, describe, it } from "@effect/vitest"
import { CALLBACK_DATA_LIMIT, decodeAnswer, encodeAnswer } from "../../../src/channels/telegram/callbackData.ts"
import { chunkHtml, htmlToPlain } from "../../../src/channels/telegram/chunk.ts"
import { chatIntervalMs, reserve, type PaceState } from "../../../src/channels/telegram/pacing.ts"
import { makeQuestionButtons } from "../../../src/channels/telegram/questionButtons.ts"
import { renderMarkdown } from "../../../src/channels/telegram/render.ts"
import { parseTarget, sourceOf } from "../../../src/channels/telegram/target.ts"
import { scrubToken } from "../../../src/channels/telegram/TelegramApi.ts"

const ALLOWED_TAGS = new Set(["b", "i", "s", "u", "code", "pre", "a", "blockquote", "tg-spoiler"])

/** Tags balance and are all ones Telegram accepts. */
const assertBalanced = (html: string) => {
  const stack: Array<string> = []
  for (const m of html.matchAll(/<(\/?)([a-z-]+)[^>]*>/g)) {
    assert.isTrue(ALLOWED_TAGS.has(m[2]!), `unexpected tag <${m[2]}> in ${html.slice(0, 80)}`)
    if (m[1] === "") stack.push(m[2]!)
    else assert.strictEqual(stack.pop(), m[2], `unbalanced </${m[2]}>`)
  }
  assert.deepStrictEqual(stack, [], "tags left open")
  assert.notMatch(html.replace(/<\/?[a-z-]+[^>]*>/g, ""), /[<>]/, "a raw < or > outside a tag")
}

/** A long agent reply: prose, lists, and code blocks (some longer than one message). */
const longReply = (targetLength: number) => {
  const parts: Array<string> = []
  let n = 0
  while (parts.join("\n\n").length < targetLength) {
    n++
    parts.push(`## Step ${n}\nThis is **paragraph ${n}** with \`inline <code>\` & an [link](https://example.com/${n}) and a few more words to make it longer.`)
    parts.push(`- item ${n}.1\n- item ${n}.2 with *emphasis*`)
    const lines = Array.from({ length: n % 4 === 0 ? 120 : 6 }, (_, i) => `  const v${n}_${i} = a < b && c > d // ${n}:${i}`)
    parts.push("```ts\n" + lines.join("\n") + "\n```")
  }
  return parts.join("\n\n")
}

describe("renderMarkdown", () => {
  it("renders the usual Markdown as Telegram HTML and escapes everything else", () => {
    const html = renderMarkdown(
      "# Title\nSome **bold**, *it*, _it_, ~~gone~~, `a<b>` and [docs](https://x.dev/?a=1&b=2) <script>&"
    )
    assert.strictEqual(
      html,
      "<b>Title</b>\nSome <b>bold</b>, <i>it</i>, <i>it</i>, <s>gone</s>, <code>a&lt;b&gt;</code> and " +
        "<a href=\"https://x.dev/?a=1&amp;b=2\">docs</a> &lt;script&gt;&amp;"
    )
  })

  it("protects code blocks: nothing inside is formatted, everything is escaped", () => {
    const html = renderMarkdown("```python\nif a < b and **x**:\n    print('<b>')\n```")
    assert.strictEqual(
      html,
      "<pre><code class=\"language-python\">if a &lt; b and **x**:\n    print('&lt;b&gt;')</code></pre>"
    )
    assert.strictEqual(renderMarkdown("```\nplain\n```"), "<pre>plain</pre>")
  })

  it("keeps unmatched delimiters, snake_case and arithmetic as text", () => {
    const html = renderMarkdown("unbalanced **bold and *half, snake_case_name, 2*3*4, a_b_c")
    assert.strictEqual(html, "unbalanced **bold and *half, snake_case_name, 2*3*4, a_b_c")
  })

  it("only links safe URLs", () => {
    assert.strictEqual(renderMarkdown("[x](javascript:alert(1))"), "[x](javascript:alert(1))")
  })

  it("a link with a URL longer than a message stays text, and its chunks stay within the limit", () => {
    const url = `https://example.com/?q=${"a".repeat(6000)}`
    const html = renderMarkdown(`see [the data](${url}) now`)
    assert.notInclude(html, "<a ")
    const chunks = chunkHtml(html)
    for (const chunk of chunks) assert.isAtMost(chunk.length, 4096)
    // The text arrives complete and in order (the whitespace at a cut is dropped).
    const squeeze = (text: string) => text.replace(/\s/g, "")
    assert.strictEqual(squeeze(chunks.map(htmlToPlain).join("")), squeeze(htmlToPlain(html)))
  })

  it("degrades tables, headings, quotes and lists readably", () => {
    const html = renderMarkdown("### Results\n| name | n |\n|---|---|\n| alpha | 1 |\n| b | 22 |\n> quoted **x**\n* one\n---")
    assert.strictEqual(
      html,
      "<b>Results</b>\n<pre>name  | n\nalpha | 1\nb     | 22</pre>\n<blockquote>quoted <b>x</b></blockquote>\n• one\n──────────"
    )
  })

  it("an unclosed code fence runs to the end and stays balanced", () => {
    const html = renderMarkdown("text\n```js\nlet a = 1 < 2")
    assert.strictEqual(html, "text\n<pre><code class=\"language-js\">let a = 1 &lt; 2</code></pre>")
  })

  it("produces balanced, accepted tags for arbitrary input", () => {
    const samples = ["**a *b** c*", "__a_", "`a ``b`` c`", "||s|| **||x**||", "[a **b**](https://x.y) ~~", "*a\n*b*"]
    for (const s of samples) assertBalanced(renderMarkdown(s))
  })
})

describe("chunkHtml", () => {
  it("a 10,000-character reply with code blocks: chunks ≤ 4096, balanced, text complete and in order", () => {
    const md = longReply(10_000)
    assert.isAtLeast(md.length, 10_000)
    const html = renderMarkdown(md)
    const chunks = chunkHtml(html)
    assert.isAtLeast(chunks.length, 3)
    for (const c of chunks) {
      assert.isAtMost(c.length, 4096)
      assertBalanced(c)
      assert.strictEqual((c.match(/<pre>|<pre /g) ?? []).length, (c.match(/<\/pre>/g) ?? []).length)
    }
    // The visible text, without the whitespace dropped at cuts, is the whole reply in order.
    const squash = (s: string) => s.replace(/\s+/g, "")
    assert.strictEqual(squash(chunks.map(htmlToPlain).join("")), squash(htmlToPlain(html)))
  })

  it("prefers a paragraph break, then a line break, then a space", () => {
    const para = "a".repeat(60) + "\n\n" + "b".repeat(30) + "\n" + "c".repeat(30)
    assert.deepStrictEqual(chunkHtml(para, 100), ["a".repeat(60), "b".repeat(30) + "\n" + "c".repeat(30)])
    const lines = "a".repeat(60) + "\n" + "b".repeat(30) + " " + "c".repeat(30)
    assert.deepStrictEqual(chunkHtml(lines, 100), ["a".repeat(60), "b".repeat(30) + " " + "c".repeat(30)])
    const spaces = "a".repeat(30) + "\n" + "b".repeat(30) + " " + "c".repeat(60) // the line break is too early
    assert.deepStrictEqual(chunkHtml(spaces, 100), ["a".repeat(30) + "\n" + "b".repeat(30), "c".repeat(60)])
    const words = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ")
    for (const c of chunkHtml(words, 20)) assert.match(c, /^w\d+( w\d+)*$/)
  })

  it("closes and reopens a code block cut in the middle", () => {
    const html = `<pre><code class="language-ts">${Array.from({ length: 40 }, (_, i) => `line ${i}`).join("\n")}</code></pre>`
    const chunks = chunkHtml(html, 120)
    assert.isAbove(chunks.length, 2)
    for (const c of chunks) {
      assert.isAtMost(c.length, 120)
      assert.match(c, /^<pre><code class="language-ts">line \d+(\nline \d+)*<\/code><\/pre>$/)
    }
  })

  it("never cuts a tag or an entity, even without any space", () => {
    const html = "<b>" + "x&amp;".repeat(100) + "</b>"
    for (const c of chunkHtml(html, 50)) {
      assert.isAtMost(c.length, 50)
      assertBalanced(c)
      assert.notMatch(c.replace(/&amp;/g, ""), /&/)
    }
  })

  it("does not split a surrogate pair", () => {
    const chunks = chunkHtml("😀".repeat(100), 15)
    for (const c of chunks) assert.strictEqual(c, "😀".repeat(c.length / 2))
    assert.strictEqual(chunks.join(""), "😀".repeat(100))
  })

  it("htmlToPlain shows what Telegram would show", () => {
    assert.strictEqual(htmlToPlain("<b>a &lt;b&gt; &amp; &quot;c&quot;</b> &#128512;"), "a <b> & \"c\" 😀")
  })
})

/** Telegram Bot API: `callback_data` is 1-64 bytes. */
const TELEGRAM_CALLBACK_DATA_BYTES = 64

describe("callback data", () => {
  it("names the question and option within 64 bytes", () => {
    const data = encodeAnswer("q-0123456789ab", 2)!
    // Telegram's own limit, not the code's constant: raising the constant past 64 must fail here.
    assert.isAtMost(Buffer.byteLength(data), TELEGRAM_CALLBACK_DATA_BYTES)
    assert.strictEqual(CALLBACK_DATA_LIMIT, TELEGRAM_CALLBACK_DATA_BYTES)
    // The longest id that fits makes exactly 64 bytes; one more byte does not fit.
    const fits = "i".repeat(TELEGRAM_CALLBACK_DATA_BYTES - "q||0".length)
    assert.strictEqual(Buffer.byteLength(encodeAnswer(fits, 0)!), 64)
    assert.isUndefined(encodeAnswer(fits + "i", 0))
    assert.isUndefined(decodeAnswer(`q|${fits}i|0`))
    assert.deepStrictEqual(decodeAnswer(data), { _tag: "Question", questionId: "q-0123456789ab", index: 2 })
    assert.isUndefined(encodeAnswer("x".repeat(80), 0))
    assert.isUndefined(decodeAnswer("garbage"))
    assert.isUndefined(decodeAnswer(undefined))
  })

  it("falls back to a short reference for long question ids", () => {
    const buttons = makeQuestionButtons(2)
    const long = "question-" + "x".repeat(80)
    const kb = buttons.keyboard({ questionId: long, source: "telegram:1", options: ["yes", "no"] })
    const data = kb.inline_keyboard[1]![0]!.callback_data
    assert.isAtMost(Buffer.byteLength(data), TELEGRAM_CALLBACK_DATA_BYTES)
    assert.strictEqual(buttons.resolve(decodeAnswer(data)!)?.questionId, long)
    // Only the most recent questions are kept.
    buttons.keyboard({ questionId: "a", source: "telegram:1", options: ["x"] })
    buttons.keyboard({ questionId: "b", source: "telegram:1", options: ["x"] })
    assert.isUndefined(buttons.resolve(decodeAnswer(data)!))
  })
})

describe("pacing", () => {
  it("paces groups at Telegram's 20 a minute, other chats at the configured interval", () => {
    assert.strictEqual(chatIntervalMs(111, 1000), 1000)
    assert.strictEqual(chatIntervalMs(-100500, 1000), 3000)
    assert.strictEqual(chatIntervalMs(-100500, 5000), 5000)
  })
  it("lets a burst through, then one message per interval", () => {
    let state: PaceState | undefined
    const waits: Array<number> = []
    for (let i = 0; i < 6; i++) {
      const r = reserve(state, 0, 1000, 3)
      state = r.state
      waits.push(r.waitMs)
    }
    assert.deepStrictEqual(waits, [0, 0, 0, 1000, 2000, 3000])
    // After a quiet period the burst is available again.
    assert.strictEqual(reserve(state, 20_000, 1000, 3).waitMs, 0)
  })
})
