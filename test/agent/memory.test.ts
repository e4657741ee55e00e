// What the agent remembers across a crash and across compactions. Each case once failed; its
// comment says how.
import { appendFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Prompt } from "effect/ai"
import { compactionSplit } from "../../src/agent/compaction.ts"
import { Memory, summaryMessage } from "../../src/agent/Memory.ts"

const dirs: Array<string> = []
const stateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-memory-"))
  dirs.push(dir)
  return dir
}
const user = (text: string) => Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text })] })
const assistant = (text: string) => Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text })] })
const texts = (messages: ReadonlyArray<Prompt.Message>) =>
  messages.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => ("text" in p ? p.text : "")).join("")))

describe("conversation memory across a crash", () => {
  // Memory appends whole lines. A crash (power loss, SIGKILL, full disk) mid-append leaves a last line
  // without its "\n"; replay skips that fragment, but the next append after the restart was once glued
  // onto it, so the first message said after the restart was lost as well (and every later
  // compaction's `replaced` count was off by one).
  it.effect("a torn last line from a crash does not swallow the first message after the restart", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* Memory.make(dir)
      yield* before.append([user("first")])
      const file = (yield* before.info).file
      // The crash: half of the next line reached the disk.
      appendFileSync(file, "{\"t\":\"msg\",\"m\":{\"role\":\"user\",\"con")
      const afterCrash = yield* Memory.make(dir)
      yield* afterCrash.append([user("said after the restart")])
      const afterRestart = yield* Memory.make(dir)
      const remembered = texts(yield* afterRestart.load)
      assert.include(remembered, "said after the restart", `remembered: ${JSON.stringify(remembered)}`)
    }).pipe(Effect.ensuring(Effect.sync(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true }))))))
})

describe("compaction", () => {
  // "Compaction that always makes room" falls back to keeping only the last turn when the kept part
  // would start at index 0. After one compaction the history starts with the summary (a system message
  // at index 0), so the oldest kept user message is at index 1 and the split was once 1: every later
  // compaction replaced only the old summary with a new one, the history never shrank, and each turn
  // over the budget paid a summarising call that made no room, until the provider refused the request
  // as too long.
  it("compaction after an earlier compaction still makes room (the summary does not count as kept turns)", () => {
    const history = [
      summaryMessage("they talked about the weather"),
      user("a long question"),
      assistant("a long answer"),
      user("another long question"),
      assistant("another long answer")
    ]
    const split = compactionSplit(history, 4)
    assert.isAbove(split, 1, `split ${split}: only the summary would be re-summarised, nothing is made room for`)
  })
})
