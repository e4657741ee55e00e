// Waiting on a fake's recorded state: a fake calls `notify` after every change, and a test waits
// for a condition with `waitFor`, which dies after its timeout with the fake's own account of
// what it saw. Shared by the fakes in this folder.
import { Effect } from "effect"

export const makeWatch = (describe: () => string) => {
  const watchers = new Set<() => void>()
  const notify = () => {
    for (const w of [...watchers]) w()
  }
  const waitFor = (label: string, predicate: () => boolean, timeoutMs = 5000): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      const check = () => {
        if (!predicate()) return
        cleanup()
        resume(Effect.void)
      }
      const timer = setTimeout(() => {
        cleanup()
        resume(Effect.die(new Error(`timed out after ${timeoutMs} ms waiting for: ${label}\n${describe()}`)))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        watchers.delete(check)
      }
      watchers.add(check)
      check()
      return Effect.sync(cleanup)
    })
  return { notify, waitFor }
}
