// Small file helpers with the guarantees the daemon relies on.
import { mkdir, rename, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { Effect } from "effect"

/** Write-then-rename, so a reader never sees a half-written file. Creates the directory. Private (0600). */
export const writeFileAtomic = (path: string, content: string) =>
  Effect.tryPromise(async () => {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const tmp = `${path}.${process.pid}.tmp`
    await writeFile(tmp, content, { mode: 0o600 })
    await rename(tmp, path)
  }).pipe(Effect.catch((e) => Effect.logWarning(`could not write ${path}`, e)))
