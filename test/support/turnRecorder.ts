// The fake chat-completions server as a model that records every turn for the cluster tests: which
// daemon asked (each daemon's OPENAI_BASE_URL has a prefix of its own, `…/d<i>/v1`), for which
// message (the last line of the last user message, e.g. `c7#3`), how much history it was shown,
// when it started and when it ended or was cut off (its daemon killed mid-turn). It answers
// `reply to <message>` after `delayMs`.
import { textOf } from "./daemonDriver.ts"
import type { FakeChatCompletions, RecordedRequest } from "./fakeChatCompletions.ts"

export interface ModelTurn {
  /** The daemon's index (from the request path), -1 when the path has no `/d<i>/` prefix. */
  readonly daemon: number
  /** The message text the turn answers (the last line of the last user message). */
  readonly message: string
  /** User messages in the history it was shown (1 for a conversation's first turn). */
  readonly history: number
  readonly startedAt: number
  /** When the model had its answer ready (or, cut off, when it noticed). */
  endedAt: number | undefined
  /**
   * The daemon went away before the answer was complete: noticed when the connection closes, which
   * can be after the answer was written into a dead socket (a loaded machine).
   */
  readonly aborted: boolean
  abortedAt: number | undefined
}

export interface TurnRecorder {
  readonly turns: Array<ModelTurn>
  /** Turns that got their whole answer. */
  readonly completed: () => Array<ModelTurn>
  /** The most turns in flight at once, over every daemon. */
  readonly maxInFlight: () => number
  /**
   * From now on, daemon `index`'s turns do not get their answer (those in flight included) until
   * its connection goes away: a kill then cuts them off for certain, not just after their answer
   * was written into a socket nobody reads.
   */
  readonly withhold: (index: number) => void
  /** Wait until `predicate` holds over the turns (checked at every start and end). */
  readonly until: (label: string, predicate: (turns: ReadonlyArray<ModelTurn>) => boolean, timeoutMs?: number) => Promise<void>
}

/** OPENAI_BASE_URL for daemon `index` on `fake`. */
export const modelUrlFor = (fake: FakeChatCompletions, index: number) => fake.url.replace(/\/v1$/, `/d${index}/v1`)

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      resolve()
    }, { once: true })
  })

export const recordTurns = (fake: FakeChatCompletions, options: { readonly delayMs: number }): TurnRecorder => {
  const turns: Array<ModelTurn> = []
  const waiters = new Set<() => void>()
  let inFlight = 0
  let maxInFlight = 0
  const withheld = new Set<number>()
  const changed = () => {
    for (const w of [...waiters]) w()
  }
  fake.setDefault(async (request: RecordedRequest) => {
    const users = request.messages.filter((m) => m.role === "user").map(textOf)
    const message = (users.at(-1) ?? "").trim().split("\n").at(-1) ?? ""
    const turn: ModelTurn = {
      daemon: Number(/\/d(\d+)\//.exec(request.path)?.[1] ?? -1),
      message,
      history: users.length,
      startedAt: Date.now(),
      endedAt: undefined,
      get aborted() {
        return request.signal.aborted
      },
      abortedAt: undefined
    }
    request.signal.addEventListener("abort", () => {
      turn.abortedAt = Date.now()
      changed()
    }, { once: true })
    turns.push(turn)
    maxInFlight = Math.max(maxInFlight, ++inFlight)
    changed()
    await sleep(options.delayMs, request.signal)
    // Until the connection closes (the longest timer Node has: about 24 days).
    if (withheld.has(turn.daemon)) await sleep(2 ** 31 - 1, request.signal)
    inFlight--
    turn.endedAt = Date.now()
    changed()
    return { text: `reply to ${message}` }
  })
  return {
    turns,
    completed: () => turns.filter((t) => t.endedAt !== undefined && !t.aborted),
    maxInFlight: () => maxInFlight,
    withhold: (index) => {
      withheld.add(index)
    },
    until: (label, predicate, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!predicate(turns)) return
          cleanup()
          resolve()
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${label}; ${turns.length} turns, ${inFlight} in flight`))
        }, timeoutMs)
        const cleanup = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
  }
}

/**
 * Per message: its turns sorted by start, over every message of one conversation. Fails with the
 * conversation's turns when two of them overlap in time (a cut-off turn counts until it was cut off).
 */
export const overlaps = (turns: ReadonlyArray<ModelTurn>): Array<string> => {
  const sorted = [...turns].sort((a, b) => a.startedAt - b.startedAt)
  const found: Array<string> = []
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!
    const next = sorted[i]!
    const prevEnd = Math.min(prev.endedAt ?? Infinity, prev.abortedAt ?? Infinity)
    if (next.startedAt < prevEnd) {
      found.push(`${prev.message} (d${prev.daemon} ${prev.startedAt}-${prev.endedAt}) overlaps ${next.message} (d${next.daemon} from ${next.startedAt})`)
    }
  }
  return found
}
