// Small file helpers with the guarantees the daemon relies on.
import { mkdir, rename, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Effect } from "effect"

/**
 * Write-then-rename, so a reader never sees a half-written file. Creates the directory. Private
 * (0600). A failure is logged and returned (the error's text), for the caller to report.
 */
export const writeFileAtomic = (path: string, content: string): Effect.Effect<string | undefined> =>
  Effect.tryPromise(async () => {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, content, { mode: 0o600 })
    await rename(tmp, path)
  }).pipe(
    Effect.as(undefined),
    Effect.catch((e) => Effect.as(Effect.logWarning(`could not write ${path}`, e), String(e.cause ?? e)))
  )
