// Long agent replies for chunking tests.

/** A long agent reply: headings, prose, lists, and code blocks (some longer than one message). */
export const longSlackReply = (targetLength: number) => {
  const parts: Array<string> = []
  let n = 0
  while (parts.join("\n\n").length < targetLength) {
    n++
    parts.push(`## Step ${n}\nThis is **paragraph ${n}** with \`inline <code>\` & a [link](https://example.com/${n}) and a few more words to make it longer.`)
    parts.push(`- item ${n}.1\n- item ${n}.2 with *emphasis*`)
    const lines = Array.from({ length: n % 4 === 0 ? 160 : 6 }, (_, i) => `  const v${n}_${i} = a < b && c > d // ${n}:${i}`)
    parts.push("```ts\n" + lines.join("\n") + "\n```")
  }
  return parts.join("\n\n")
}
