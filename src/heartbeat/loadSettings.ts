// Read the settings the way the daemon does at start (environment plus SWITCHBOARD_CONFIG_FILE), at
// any later moment: for reload (SIGHUP, POST /v1/admin/reload) and for the watchdog.
import { Effect } from "effect"
import { configProviderLayer, describeStartupFailure } from "../config/environment.ts"
import { ConfigSchema, type GatewaySettings } from "../config/GatewayConfig.ts"
import { HeartbeatSettingsInvalid } from "./settings.ts"

type Env = Record<string, string | undefined>

/** All settings, or one line saying which variable is wrong. Re-reads the config file each time. */
export const readSettingsSync = (env: Env): GatewaySettings | string => {
  try {
    const exit = Effect.runSyncExit(
      Effect.gen(function*() {
        return yield* ConfigSchema
      }).pipe(Effect.provide(configProviderLayer(env as NodeJS.ProcessEnv)))
    )
    if (exit._tag === "Success") return exit.value
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    return describeStartupFailure(failure?._tag === "Fail" ? failure.error : exit.cause, env as NodeJS.ProcessEnv)
  } catch (e) {
    return describeStartupFailure(e, env as NodeJS.ProcessEnv)
  }
}

/** For `HeartbeatRunner.layerWith({ loadSettings: reloadHeartbeatSettings(process.env) })`. */
export const reloadHeartbeatSettings = (env: Env) =>
  Effect.suspend(() => {
    const settings = readSettingsSync(env)
    if (typeof settings !== "string") return Effect.succeed(settings.heartbeat)
    // "invalid configuration: VAR: what is expected" → the variable and what it expects.
    const m = /^invalid configuration: ([A-Z0-9_]+): (.*)$/s.exec(settings)
    return Effect.fail(
      m ? new HeartbeatSettingsInvalid({ variable: m[1]!, expected: m[2]! })
        : new HeartbeatSettingsInvalid({ variable: "configuration", expected: settings })
    )
  })
