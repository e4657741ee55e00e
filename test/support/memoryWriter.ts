// A child process that writes conversation turns through Memory, for tests that need a real
// process to die (kill -9) or a real write to fail (a file-size limit). Usage:
//   node test/support/memoryWriter.ts <stateDir> <text length>…   one turn per argument, then exit
//   node test/support/memoryWriter.ts <stateDir> forever <length>  turns until killed
// Prints one JSON line per turn: { "turn", "writeFailing", "persistenceOk" }.
import { Effect, Logger } from "effect"
import { Prompt } from "effect/ai"
import { Memory } from "../../src/agent/Memory.ts"
import { Persistence } from "../../src/store/Persistence.ts"

const [stateDir, ...lengths] = process.argv.slice(2)
const text = (turn: number, length: number) => `turn ${turn} ` + "x".repeat(length)
const turnOf = (turn: number, length: number) => [
  Prompt.makeMessage("user", { content: [Prompt.makePart("text", { text: text(turn, length) })] }),
  Prompt.makeMessage("assistant", { content: [Prompt.makePart("text", { text: `reply ${turn}` })] })
]

const program = Effect.gen(function*() {
  const memory = yield* Memory.make(stateDir!)
  const persistence = yield* Persistence
  const say = (turn: number, length: number) =>
    Effect.gen(function*() {
      yield* memory.append(turnOf(turn, length))
      const info = yield* memory.info
      const report = yield* persistence.report
      process.stdout.write(JSON.stringify({ turn, writeFailing: info.writeFailing, persistenceOk: report.ok }) + "\n")
    })
  if (lengths[0] === "forever") {
    for (let turn = 0; ; turn++) yield* say(turn, Number(lengths[1]))
  }
  for (const [turn, length] of lengths.entries()) yield* say(turn, Number(length))
}).pipe(Effect.provide(Persistence.layer), Effect.provide(Logger.layer([])))

void Effect.runPromise(program)
