// What the agent remembers across a crash, a failed write and compactions. Each case once failed;
// its comment says how. Crashes are made by hand (a file truncated mid-line, as a kill -9 or a power
// cut during a write leaves it) or for real (a writer process killed with SIGKILL, a file-size limit).
import { spawn } from "node:child_process"
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { Prompt } from "effect/ai"
import { compactionSplit } from "../../src/agent/compaction.ts"
import { INTERRUPTED_REPLY } from "../../src/agent/historyRepair.ts"
import { Memory, summaryMessage } from "../../src/agent/Memory.ts"
import { Persistence } from "../../src/store/Persistence.ts"
import { ROOT } from "../support/daemon.ts"

const dirs: Array<string> = []
const stateDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-memory-"))
  dirs.push(dir)
  return dir
}
const cleanup = Effect.sync(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })))
const user = (text: string) => Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text })] })
const assistant = (text: string) => Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text })] })
const callsTool = (id: string) =>
  Prompt.makeMessage("assistant", { content: [Prompt.makePart("tool-call", { id, name: "exec", params: { command: "ls" }, providerExecuted: false })] })
const toolResult = (id: string) =>
  Prompt.makeMessage("tool", {
    content: [Prompt.makePart("tool-result", { id, name: "exec", isFailure: false, result: "started", providerExecuted: false })]
  })
const texts = (messages: ReadonlyArray<Prompt.Message>) =>
  messages.map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => ("text" in p ? p.text : "")).join("")))
const roles = (messages: ReadonlyArray<Prompt.Message>) => messages.map((m) => m.role)

/** A start of Memory on `dir`, with its log lines. */
const open = (dir: string) =>
  Effect.gen(function*() {
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => void logs.push(String(Array.isArray(message) ? message[0] : message)))
    const memory = yield* Memory.make(dir).pipe(Effect.provide(Logger.layer([logger])))
    return { memory, logs, file: (yield* memory.info).file }
  }).pipe(Effect.provide(Persistence.layer))

/** Cut the file inside its last line, as a crash during that line's write leaves it. */
const tearLastLine = (file: string, keep = 25) => {
  const text = readFileSync(file, "utf8")
  const lastStart = text.slice(0, -1).lastIndexOf("\n") + 1
  truncateSync(file, Buffer.byteLength(text.slice(0, lastStart + keep)))
}

/** No two user messages in a row and no tool call without its result: what strict templates demand. */
const assertAcceptable = (messages: ReadonlyArray<Prompt.Message>) => {
  const spoken = messages.filter((m) => m.role !== "system")
  spoken.forEach((m, i) => {
    if (i > 0 && m.role === "user") assert.notInclude(["user", "tool"], spoken[i - 1]!.role, `two in a row: ${roles(spoken)}`)
  })
  const results = new Set(messages.flatMap((m) => (m.role === "tool" ? m.content.map((p) => ("id" in p ? p.id : "")) : [])))
  for (const m of messages) {
    if (m.role !== "assistant") continue
    for (const p of m.content) if (p.type === "tool-call") assert.isTrue(results.has(p.id), `tool call ${p.id} has no result`)
  }
}

describe("conversation memory across a crash", () => {
  // Memory appends whole lines. A crash (power loss, SIGKILL, full disk) mid-append leaves a last line
  // without its "\n"; replay skips that fragment, but the next append after the restart was once glued
  // onto it, so the first message said after the restart was lost as well (and every later
  // compaction's `replaced` count was off by one).
  it.effect("a torn last line from a crash does not swallow the first message after the restart", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* open(dir)
      yield* before.memory.append([user("first")])
      // The crash: half of the next line reached the disk.
      appendFileSync(before.file, "{\"t\":\"msg\",\"m\":{\"role\":\"user\",\"con")
      const afterCrash = yield* open(dir)
      yield* afterCrash.memory.append([user("said after the restart")])
      const afterRestart = yield* open(dir)
      const remembered = texts(yield* afterRestart.memory.load)
      assert.include(remembered, "said after the restart", `remembered: ${JSON.stringify(remembered)}`)
    }).pipe(Effect.ensuring(cleanup)))

  // The fragment was once kept on disk (ended with a newline) and skipped at every start after, for
  // ever, with only "skipped unreadable lines" in the log: nobody could tell a crash had cost a reply.
  it.effect("the start cuts a torn last line off the file and logs what was dropped", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* open(dir)
      yield* before.memory.append([user("question"), assistant("an answer that was being written")])
      const whole = readFileSync(before.file, "utf8")
      tearLastLine(before.file)
      const after = yield* open(dir)
      const onDisk = readFileSync(after.file, "utf8")
      assert.strictEqual(onDisk, whole.slice(0, whole.slice(0, -1).lastIndexOf("\n") + 1), "the fragment is gone, the whole lines stay")
      const dropped = after.logs.find((l) => l.includes("torn last line"))
      assert.isDefined(dropped, `logs: ${after.logs.join(" | ")}`)
      assert.include(dropped!, "line 2, 25 bytes, part of a message")
    }).pipe(Effect.ensuring(cleanup)))

  // The user's line reached the disk and the reply's did not: the history then had two user messages
  // in a row after the next turn, and Mistral- or Gemma-style chat templates refused every request
  // from then on ("conversation roles must alternate").
  it.effect("a reply lost in a crash is marked as interrupted, so user and assistant still alternate", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* open(dir)
      yield* before.memory.append([user("one"), assistant("reply one")])
      yield* before.memory.append([user("two"), assistant("reply two, being written when the process died")])
      tearLastLine(before.file)
      const after = yield* open(dir)
      const history = yield* after.memory.load
      assert.deepStrictEqual(texts(history), ["one", "reply one", "two", INTERRUPTED_REPLY])
      yield* after.memory.append([user("three"), assistant("reply three")])
      const again = yield* open(dir)
      const replayed = yield* again.memory.load
      assertAcceptable(replayed)
      assert.deepStrictEqual(texts(replayed), ["one", "reply one", "two", INTERRUPTED_REPLY, "three", "reply three"])
    }).pipe(Effect.ensuring(cleanup)))

  // A crash between a tool call and its result left an assistant tool call with no tool message:
  // OpenAI-compatible servers answer 400 ("tool_calls must be followed by tool messages") to every
  // later request of the conversation.
  it.effect("a tool call whose result was lost in a crash is removed from the history", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* open(dir)
      yield* before.memory.append([user("list the files"), callsTool("call-1"), toolResult("call-1"), assistant("done")])
      writeFileSync(before.file, readFileSync(before.file, "utf8").split("\n").slice(0, 2).join("\n") + "\n")
      const after = yield* open(dir)
      assertAcceptable(yield* after.memory.load)
      yield* after.memory.append([user("and now?"), assistant("here")])
      const again = yield* open(dir)
      const replayed = yield* again.memory.load
      assertAcceptable(replayed)
      assert.deepStrictEqual(texts(replayed).slice(-2), ["and now?", "here"])
    }).pipe(Effect.ensuring(cleanup)))

  // kill -9 while a turn is being written: every turn the writer finished is there, whole and in
  // order, and the file takes the next turn.
  it.live("a writer killed with SIGKILL in the middle of its appends loses no finished turn", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const finished = yield* Effect.promise(() => runWriter(dir, ["forever", "200000"], { killAfterTurns: 12 }))
      assert.isAtLeast(finished.length, 12)
      const after = yield* open(dir)
      const history = yield* after.memory.load
      assertAcceptable(history)
      const turns = texts(history).filter((t) => t.startsWith("turn ")).map((t) => Number(t.split(" ")[1]))
      for (const t of finished.map((f) => f.turn)) assert.include(turns, t, `finished turn ${t} is lost`)
      assert.deepStrictEqual(turns, [...turns].sort((a, b) => a - b), "turns stay in order")
      yield* after.memory.append([user("after the crash"), assistant("ok")])
      assert.deepStrictEqual(texts(yield* (yield* open(dir)).memory.load).slice(-2), ["after the crash", "ok"])
    }).pipe(Effect.ensuring(cleanup)), 30_000)
})

describe("conversation memory when a write fails", () => {
  // A file-size limit (as a full disk does) let an append write half of its line and fail; the next
  // append was glued to that fragment, and the turn after the failure was lost at the next start.
  // The failure was only an ERROR line: nothing said the conversation was no longer being kept.
  it.live("a failed append is cut back: the next turn is remembered, and persistence reports the failure meanwhile", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      // 8 KiB per file: the first turn fits, the second (20 KB) does not, the third fits again.
      const written = yield* Effect.promise(() => runWriter(dir, ["10", "20000", "10"], { fileSizeKiB: 8 }))
      assert.deepStrictEqual(written.map((w) => [w.turn, w.writeFailing, w.persistenceOk]), [
        [0, false, true],
        [1, true, false],
        [2, false, true]
      ])
      const after = yield* open(dir)
      assert.strictEqual(statSync(after.file).size, Buffer.byteLength(readFileSync(after.file, "utf8")))
      assert.notInclude(after.logs.join(" "), "torn", "no fragment was left behind")
      assert.deepStrictEqual(texts(yield* after.memory.load), ["turn 0 " + "x".repeat(10), "reply 0", "turn 2 " + "x".repeat(10), "reply 2"])
    }).pipe(Effect.ensuring(cleanup)))
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

  // The repairs made at a start must not shift what a later compaction record counts.
  it.effect("a compaction after a repaired start replays to the same history", () =>
    Effect.gen(function*() {
      const dir = stateDir()
      const before = yield* open(dir)
      yield* before.memory.append([user("one"), assistant("reply one"), user("two"), assistant("reply two")])
      tearLastLine(before.file)
      const after = yield* open(dir)
      yield* after.memory.append([user("three"), assistant("reply three")])
      yield* after.memory.compact("one and two", 4)
      const live = texts(yield* after.memory.load)
      assert.deepStrictEqual(texts(yield* (yield* open(dir)).memory.load), live)
      assert.deepStrictEqual(live.slice(1), ["three", "reply three"])
    }).pipe(Effect.ensuring(cleanup)))
})

interface Written {
  readonly turn: number
  readonly writeFailing: boolean
  readonly persistenceOk: boolean
}

/** Run test/support/memoryWriter.ts; with `killAfterTurns`, SIGKILL it once that many turns are written. */
const runWriter = (dir: string, args: ReadonlyArray<string>, options: { killAfterTurns?: number; fileSizeKiB?: number }) =>
  new Promise<Array<Written>>((resolve, reject) => {
    const script = join(ROOT, "test", "support", "memoryWriter.ts")
    const command = `trap '' XFSZ; ${options.fileSizeKiB === undefined ? "" : `ulimit -f ${options.fileSizeKiB};`} exec "$0" "$@"`
    const child = spawn("bash", ["-c", command, process.execPath, script, dir, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] })
    const written: Array<Written> = []
    let buffer = ""
    let stderr = ""
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()))
    child.stdout.on("data", (c: Buffer) => {
      buffer += c.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop()!
      for (const line of lines) written.push(JSON.parse(line) as Written)
      if (options.killAfterTurns !== undefined && written.length >= options.killAfterTurns) child.kill("SIGKILL")
    })
    child.on("exit", (code, signal) => {
      if (code === 0 || signal === "SIGKILL") resolve(written)
      else reject(new Error(`writer exited ${code ?? signal}: ${stderr}`))
    })
  })
