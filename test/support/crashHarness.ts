// Crash tests on the built daemon: a slow fake model (so messages queue up behind a turn), the
// daemon killed with SIGKILL in the middle of a turn, and a restart on the same state dir.
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Daemon, eventually, startDaemon } from "./daemon.ts"
import { lastUser } from "./daemonDriver.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "./fakeChatCompletions.ts"

/** `msg-<n>` in a message's text: the marker the model's reply repeats. */
export const marker = (n: number) => `msg-${n}`
const markerIn = (text: string) => /msg-\d+/.exec(text)?.[0] ?? "?"

export interface SlowModel {
  readonly fake: FakeChatCompletions
  /** How long each answer takes (ms); change it between the crash and the restart. */
  delayMs: number
  /** Resolves once the model has been asked `n` times (the n-th turn is running). */
  readonly asked: (n: number, timeoutMs?: number) => Promise<void>
  /** The markers of the requests the model was asked about, in order. */
  readonly askedAbout: () => Array<string>
}

/** A model that answers `re: msg-<n>` to a message containing `msg-<n>`, after `delayMs`. */
export const slowModel = async (delayMs: number): Promise<SlowModel> => {
  const fake = await startFakeChatCompletions()
  const model: SlowModel = {
    fake,
    delayMs,
    asked: (n, timeoutMs = 20_000) => eventually(async () => (fake.requests.length >= n ? true : undefined), timeoutMs, 10).then(() => {}),
    askedAbout: () => fake.requests.map((r) => markerIn(lastUser(r)))
  }
  fake.setDefault((request) => ({ text: `re: ${markerIn(lastUser(request))}`, delayMs: model.delayMs }))
  return model
}

export interface CrashRig {
  readonly stateDir: string
  readonly env: Record<string, string>
  /** The daemon now running (the first, then the restarted one). */
  current: Daemon
  /** SIGKILL the running daemon; resolves once it is gone. */
  readonly kill: () => Promise<void>
  /** Start again on the same state dir with the same environment. */
  readonly restart: () => Promise<Daemon>
  readonly close: () => Promise<void>
}

/** A daemon on the openai provider against `model`, plus what it takes to kill and restart it. */
export const crashRig = async (model: SlowModel, env: Record<string, string>): Promise<CrashRig> => {
  const stateDir = mkdtempSync(join(tmpdir(), "switchboard-crash-"))
  const fullEnv = {
    SWITCHBOARD_MODEL_PROVIDER: "openai",
    OPENAI_BASE_URL: model.fake.url,
    SWITCHBOARD_MODEL: "crash-model",
    SWITCHBOARD_LOG_LEVEL: "Info",
    ...env
  }
  const rig: CrashRig = {
    stateDir,
    env: fullEnv,
    current: await startDaemon({ stateDir, env: fullEnv }),
    kill: async () => {
      const code = await rig.current.stop("SIGKILL")
      if (code !== "SIGKILL") throw new Error(`the daemon had already ended (${code}) before the kill`)
    },
    restart: async () => {
      rig.current = await startDaemon({ stateDir, env: fullEnv })
      return rig.current
    },
    close: async () => {
      await rig.current.stop()
      await model.fake.close()
      rmSync(stateDir, { recursive: true, force: true })
    }
  }
  return rig
}

/** How often each value occurs. */
export const counts = (values: ReadonlyArray<string>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const v of values) out[v] = (out[v] ?? 0) + 1
  return out
}

/** `{ "re: msg-0": 1, …, "re: msg-<n-1>": 1 }`: every message answered exactly once. */
export const eachOnce = (n: number): Record<string, number> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`re: ${marker(i)}`, 1]))
