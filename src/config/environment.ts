// Turning the process environment into configuration, and start-up failures into one clear line.
import { readFileSync } from "node:fs"
import { ConfigProvider } from "effect"
import { resolveSecretFiles, SECRET_NAME, SecretFileError } from "./secretFiles.ts"

/**
 * Environment variables, plus a JSON config file (`SWITCHBOARD_CONFIG_FILE`, an object of the same
 * variable names) that adds to them. The environment wins.
 */
export const configProviderLayer = (env: NodeJS.ProcessEnv) => {
  const file = env["SWITCHBOARD_CONFIG_FILE"]
  const fromFile: Record<string, string> = {}
  if (file !== undefined && file !== "") {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, "utf8"))
    } catch (e) {
      throw new StartupFailure(`SWITCHBOARD_CONFIG_FILE: cannot read ${file} as JSON (${(e as Error).message})`)
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new StartupFailure(`SWITCHBOARD_CONFIG_FILE: ${file} must hold a JSON object of variable names`)
    }
    for (const [k, v] of Object.entries(parsed)) {
      const value = configFileValue(v)
      if (value === null) {
        throw new StartupFailure(
          `SWITCHBOARD_CONFIG_FILE: ${k} must be a string, a number, a boolean, a list (of strings or numbers) or null (unset)`
        )
      }
      if (value !== undefined) fromFile[k] = value
    }
  }
  const merged: Record<string, string> = { ...fromFile }
  for (const [k, v] of Object.entries(env)) if (v !== undefined) merged[k] = v
  // Secrets may come from files (`*_FILE`, systemd credentials) instead of the environment.
  let resolved: Record<string, string>
  try {
    resolved = resolveSecretFiles(merged)
  } catch (e) {
    if (e instanceof SecretFileError) throw new StartupFailure(e.message)
    throw e
  }
  return ConfigProvider.layer(ConfigProvider.fromEnv({ env: resolved }))
}

export class StartupFailure extends Error {}

/**
 * A config-file value as the environment would hold it: `null` means unset (undefined) — never
 * the text "null", which would make a token of it; a list (e.g. chat ids) is a comma list; anything else that
 * is not a scalar is refused (null).
 */
export const configFileValue = (v: unknown): string | undefined | null => {
  if (v === null) return undefined
  if (typeof v === "string") return v
  if (typeof v === "number" || typeof v === "boolean") return String(v)
  if (Array.isArray(v) && v.every((x) => typeof x === "string" || typeof x === "number")) return v.join(",")
  return null
}

const schemaLine = /^(.*?)\s*at \[(.+)\]\s*$/s

/**
 * A bad value, as it may be printed (stderr goes to the journal): never for secrets, and with the
 * `user:password@` part of anything URL-like masked, malformed URLs included.
 */
export const shownValue = (variable: string, value: string): string | undefined => {
  if (/TOKEN|KEY|SECRET|PASSWORD|HEADERS/i.test(variable) || SECRET_NAME.test(variable)) return undefined
  return value.replace(/^((?:[a-z][a-z0-9+.-]*:)?\/*)[^@]*@/i, "$1…@")
}

/** One line naming the variable and what is expected, for any failure before the daemon is up. */
export const describeStartupFailure = (error: unknown, env: NodeJS.ProcessEnv): string => {
  const e = error as { _tag?: string; message?: string; cause?: { message?: string } }
  if (e?._tag === "ConfigError") {
    const text = e.cause?.message ?? String(error)
    const m = schemaLine.exec(text)
    if (m) {
      const path = m[2]!.split(",").map((p) => p.trim().replace(/^"|"$/g, ""))
      const variable = path[0] ?? "?"
      const got = env[variable]
      const shown = got === undefined ? undefined : shownValue(variable, got)
      return `invalid configuration: ${variable}: ${m[1]!.replace(/\s+/g, " ").trim()}${
        shown !== undefined ? ` (got ${JSON.stringify(shown)})` : ""
      }`
    }
    return `invalid configuration: ${text.replace(/\s+/g, " ")}`
  }
  if (
    e?._tag === "ConfigInvalid" || e?._tag === "HeartbeatSettingsInvalid" || e?._tag === "ChecksFileInvalid" ||
    e?._tag === "AgentsFileInvalid" ||
    e?._tag === "ApiTokensFileInvalid" ||
    error instanceof StartupFailure
  ) {
    return `invalid configuration: ${e.message}`
  }
  // The store (src/store/Store.ts) cannot be opened, is not SQLite, or is of a newer schema.
  if (e?._tag === "StoreUnavailable") return e.message ?? String(error)
  if (e?._tag === "ServeError") return `cannot start the HTTP API: ${e.cause?.message ?? e.message}`
  return `cannot start: ${e?.message ?? String(error)}`
}
