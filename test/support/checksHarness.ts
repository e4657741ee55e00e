// The daemon's graph with checks on the TestClock: core(scripted session) + HeartbeatRunner +
// the checks layers, a checks file written to a temp dir, scripted probes, secrets from a given
// environment. Every prompt the session sees is recorded with its start time.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Clock, ConfigProvider, Effect, Layer, Option, type Scope } from "effect"
import type { ProbeSpec } from "../../src/checks/checkFile.ts"
import { Probes } from "../../src/checks/Probes.ts"
import type { Result } from "../../src/checks/stateMachine.ts"
import type { ChecksSettings } from "../../src/config/checks.ts"
import { GatewayConfig, type GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { CurrentRequest } from "../../src/core/CurrentRequest.ts"
import { Session } from "../../src/core/Session.ts"
import type { TurnFailed } from "../../src/domain/errors.ts"
import type { Inbound } from "../../src/domain/model.ts"
import { HeartbeatRunner } from "../../src/heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../src/heartbeat/HeartbeatWake.ts"
import { SystemEvents } from "../../src/heartbeat/SystemEvents.ts"
import { checksLayer } from "../../src/layers/Checks.ts"
import { core } from "../../src/layers/Core.ts"
import { quietLogs } from "./harness.ts"
import { Store } from "../../src/store/Store.ts"

export interface Prompt {
  readonly request: Inbound
  readonly at: number
}

export type Script = (name: string, probe: ProbeSpec, now: number) => Effect.Effect<Result>

export interface ChecksHarnessOptions {
  readonly file: unknown
  readonly script?: Script
  readonly checks?: Partial<ChecksSettings>
  readonly patch?: (s: GatewaySettings) => GatewaySettings
  readonly reply?: (request: Inbound) => Effect.Effect<string, TurnFailed>
  /** Variables the hooks' secrets are read from. */
  readonly env?: Record<string, string>
}

export const checksHarness = (options: ChecksHarnessOptions) => {
  const dir = mkdtempSync(join(tmpdir(), "switchboard-checks-"))
  const file = join(dir, "checks.json")
  writeFileSync(file, JSON.stringify(options.file))
  const prompts: Array<Prompt> = []
  const ticks: Array<number> = []
  /** Probe runs that happened inside a turn (must stay empty). */
  const probesInTurns: Array<string> = []
  const reply = options.reply ?? ((r: Inbound) => Effect.succeed(`echo: ${r.text}`))
  const session = Layer.succeed(
    Session,
    Session.of({
      prompt: (request) =>
        Effect.gen(function*() {
          prompts.push({ request, at: yield* Clock.currentTimeMillis })
          return { text: yield* reply(request) }
        }),
      reset: Effect.void,
      info: Effect.succeed({ provider: "test", model: "test" })
    })
  )
  const script: Script = options.script ?? (() => Effect.succeed({ ok: true, detail: "fine" }))
  const probes = Layer.succeed(
    Probes,
    Probes.of({
      run: (name, probe) =>
        Effect.gen(function*() {
          const current = yield* CurrentRequest
          if (current !== undefined) probesInTurns.push(`${name} in ${current.id}`)
          return yield* script(name, probe, yield* Clock.currentTimeMillis)
        })
    })
  )
  const config = GatewayConfig.test((s) => {
    const patched = options.patch ? options.patch(s) : s
    return {
      ...patched,
      stateDir: dir,
      checks: {
        ...patched.checks,
        file: Option.some(file),
        alertTarget: Option.some("http:me"),
        timeZone: "UTC",
        ...options.checks
      }
    }
  }).pipe(Layer.provideMerge(quietLogs))
  const env = ConfigProvider.layer(ConfigProvider.fromEnv({ env: options.env ?? {} }))
  const layer = Layer.mergeAll(
    checksLayer(probes),
    HeartbeatRunner.layerWith({ writeTripwire: (_dir, at) => Effect.sync(() => void ticks.push(at)) })
  ).pipe(
    Layer.provideMerge(core(session)),
    Layer.provideMerge(Layer.mergeAll(SystemEvents.layer, HeartbeatWake.layer)),
    Layer.provideMerge(Store.memory),
    Layer.provideMerge(config),
    Layer.provideMerge(env)
  )
  return {
    file,
    prompts,
    ticks,
    probesInTurns,
    /** Replace the checks file (for reload). */
    rewrite: (content: unknown) => writeFileSync(file, typeof content === "string" ? content : JSON.stringify(content)),
    run: <A, E>(body: Effect.Effect<A, E, Layer.Success<typeof layer> | Scope.Scope>) =>
      body.pipe(Effect.provide(layer), Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  }
}
