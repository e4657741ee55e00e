// The state dir, made ready before anything writes to it: created private (0700), a probe write
// (a read-only or full disk stops the start with one line, exit 2, instead of a daemon that then
// cannot keep anything and is restarted by its watchdog every minute), one daemon per dir (the lock
// file), temp files of dead processes removed, modes made private whatever the umask. The lock is
// released at stop. See stateDirFiles.ts for the rules themselves.
import { join } from "node:path"
import { Clock, Context, Effect, Layer, Schema } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { acquireLock, createPrivate, LOCK_FILE, prepareAndProbe, releaseLock, STORE_FILE, tidy } from "./stateDirFiles.ts"
import { tornWalBytes } from "./walCheck.ts"

/** The state dir cannot be used: the start stops with this one line. */
export class StateDirUnusable extends Schema.TaggedError<StateDirUnusable>()("StateDirUnusable", {
  line: Schema.String
}) {
  override get message() {
    return this.line
  }
}

export class StateDir extends Context.Service<StateDir, {
  readonly path: string
  /** `<state dir>/daemon.lock`, held while this daemon runs. */
  readonly lockFile: string
}>()("switchboard/StateDir") {
  static readonly make = (path: string) =>
    Effect.gen(function*() {
      const unusable = prepareAndProbe(path)
      if (unusable !== undefined) return yield* new StateDirUnusable({ line: unusable })
      const now = new Date(yield* Clock.currentTimeMillis)
      const lock = yield* Effect.try({
        try: () => acquireLock(path, now),
        catch: (e) => new StateDirUnusable({ line: `cannot take the lock ${join(path, LOCK_FILE)}: ${String(e)}` })
      })
      if (lock._tag === "Refused") return yield* new StateDirUnusable({ line: lock.line })
      yield* Effect.addFinalizer(() => Effect.sync(() => releaseLock(path)).pipe(Effect.ignore))
      if (lock.replacedStale !== undefined) {
        yield* Effect.logWarning(
          `state dir: replaced the lock of switchboard pid ${lock.replacedStale.pid}, which is no longer running (it stopped without cleaning up: a crash or a kill -9)`
        ).pipe(Effect.annotateLogs({ stateDir: path }))
      }
      const tidied = yield* Effect.try(() => tidy(path)).pipe(
        Effect.tapError((e) => Effect.logWarning("state dir: could not tidy up", e)),
        Effect.option
      )
      if (tidied._tag === "Some" && tidied.value.removed.length > 0) {
        yield* Effect.logInfo(`state dir: removed ${tidied.value.removed.length} temp file(s) left by a process that died mid-write`).pipe(
          Effect.annotateLogs({ files: tidied.value.removed.join(",") })
        )
      }
      if (tidied._tag === "Some" && tidied.value.tightened > 0) {
        yield* Effect.logInfo(`state dir: made ${tidied.value.tightened} file(s) or folder(s) private to this user (0600 / 0700)`)
      }
      yield* Effect.try(() => createPrivate(join(path, STORE_FILE))).pipe(Effect.ignore)
      const torn = tornWalBytes(join(path, `${STORE_FILE}-wal`))
      if (torn > 0) {
        yield* Effect.logWarning(
          `state dir: the store's write-ahead log ends in a torn write (${torn} bytes past its last whole frame): ` +
            "the commits of that write are dropped; what was accepted just before the crash may be lost or answered again"
        ).pipe(Effect.annotateLogs({ file: join(path, `${STORE_FILE}-wal`), bytes: torn }))
      }
      return StateDir.of({ path, lockFile: join(path, LOCK_FILE) })
    })

  /** Build before anything that writes there (the daemon provides it to the whole graph). */
  static readonly layer = Layer.effect(
    StateDir,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      return yield* StateDir.make(config.stateDir)
    })
  )
}
