// The CLI at a terminal: `chat` keeps a prompt (`cli:local> `) under what arrives, `status --watch`
// redraws in place. Piped (scripts, tests) they print plain lines only.
import { clearLine, createInterface, cursorTo, type Interface } from "node:readline"
import { Effect } from "effect"

export const isInteractive = () => process.stdin.isTTY === true && process.stdout.isTTY === true

export interface ChatTerminal {
  /** Lines typed, one at a time (buffered while a message is being posted). */
  readonly lines: AsyncIterator<string>
  /** Print a message above the prompt, and show the prompt again. */
  readonly print: (text: string) => Effect.Effect<void>
  /** Show the prompt (after a line was sent). */
  readonly prompt: Effect.Effect<void>
  readonly close: Effect.Effect<void>
}

export const chatTerminal = (prompt: string): ChatTerminal => {
  const tty = isInteractive()
  const rl: Interface = tty
    ? createInterface({ input: process.stdin, output: process.stdout, terminal: true, prompt })
    : createInterface({ input: process.stdin, terminal: false })
  return {
    lines: rl[Symbol.asyncIterator](),
    print: (text) =>
      Effect.sync(() => {
        if (!tty) return void process.stdout.write(`${text}\n`)
        clearLine(process.stdout, 0)
        cursorTo(process.stdout, 0)
        process.stdout.write(`${text}\n`)
        rl.prompt(true)
      }),
    prompt: Effect.sync(() => tty && rl.prompt()),
    close: Effect.sync(() => rl.close())
  }
}

/** Clear the screen and draw `text` from the top-left corner (a terminal), or print it (a pipe). */
export const redraw = (text: string) =>
  Effect.sync(() => {
    if (process.stdout.isTTY === true) process.stdout.write(`\x1b[H\x1b[2J${text}\n`)
    else process.stdout.write(`${text}\n\n`)
  })
