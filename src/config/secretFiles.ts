// Secrets need not be in the environment (where every process of the same user can read them from
// /proc/<pid>/environ): `<NAME>_FILE` names a file holding the value, and systemd's
// `LoadCredential=<NAME>:<path>` puts it in $CREDENTIALS_DIRECTORY/<NAME>. Also: every secret value
// the daemon knows, for scrubbing job output. Plain functions (node:fs only).
import { readdirSync, readFileSync } from "node:fs"
import { isAbsolute, join, resolve } from "node:path"
import { Redacted } from "effect"

/** Variable names that hold secrets: their value is never shown, and may come from a file. */
export const SECRET_NAME = /(?:^|_)(?:TOKEN|KEY|SECRET|PASSWORD|HEADERS)$/

/** REDIS_URL and the like may carry `user:password@`: they may come from a file too. */
const FILE_CAPABLE = (name: string) => SECRET_NAME.test(name) || name === "REDIS_URL"

export class SecretFileError extends Error {}

/** The value of a secret file: its content without the trailing newline editors add. */
const readSecret = (variable: string, path: string): string => {
  let text: string
  try {
    text = readFileSync(path, "utf8")
  } catch (e) {
    throw new SecretFileError(`${variable}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  return text.replace(/\r?\n$/, "")
}

/**
 * The environment with `<NAME>_FILE` and `$CREDENTIALS_DIRECTORY/<NAME>` resolved into `<NAME>`.
 * Setting a secret both directly and as a file is refused (which one would win is a guess). A
 * credential is used only when neither the variable nor its `_FILE` is set.
 */
export const resolveSecretFiles = (env: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = { ...env }
  for (const [name, path] of Object.entries(env)) {
    if (!name.endsWith("_FILE")) continue
    const variable = name.slice(0, -"_FILE".length)
    if (!FILE_CAPABLE(variable) || path === "") continue
    if (env[variable] !== undefined && env[variable] !== "") {
      throw new SecretFileError(`${variable}: set either ${variable} or ${name}, not both`)
    }
    out[variable] = readSecret(variable, path)
    delete out[name]
  }
  const credentials = env["CREDENTIALS_DIRECTORY"]
  if (credentials !== undefined && credentials !== "") {
    let names: Array<string> = []
    try {
      names = readdirSync(credentials)
    } catch {
      // no credentials passed: nothing to add
    }
    for (const variable of names) {
      if (!FILE_CAPABLE(variable) || out[variable] !== undefined) continue
      out[variable] = readSecret(variable, join(credentials, variable))
    }
  }
  return out
}

/**
 * Files and directories that hold secrets (the config file, `*_FILE` targets, the credentials
 * directory), as absolute paths: a sandboxed job sees them empty.
 */
export const secretPaths = (env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()) => {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(cwd, p))
  const files: Array<string> = []
  const dirs: Array<string> = []
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value === "") continue
    if (name === "SWITCHBOARD_CONFIG_FILE" || name === "SWITCHBOARD_API_TOKENS_FILE") files.push(abs(value))
    else if (name.endsWith("_FILE") && FILE_CAPABLE(name.slice(0, -"_FILE".length))) files.push(abs(value))
  }
  const credentials = env["CREDENTIALS_DIRECTORY"]
  if (credentials !== undefined && credentials !== "") dirs.push(abs(credentials))
  return { files, dirs }
}

/** The password of a `scheme://user:password@host` value (or the token of `scheme://token@host`). */
const urlCredentials = (value: string): Array<string> => {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/@\s]*)@/i.exec(value)
  if (m === null) return []
  const info = m[1]!
  const secret = info.includes(":") ? info.slice(info.indexOf(":") + 1) : info
  try {
    return [decodeURIComponent(secret)]
  } catch {
    return [secret]
  }
}

/**
 * Every secret value in the settings (each `Redacted`, wherever it sits, and credentials inside
 * URLs) and in the environment (variables named like secrets, e.g. GITHUB_TOKEN passed to jobs).
 */
export const secretValues = (settings: unknown, env: Readonly<Record<string, string | undefined>> = {}): Array<string> => {
  const found = new Set<string>()
  const seen = new Set<unknown>()
  const walk = (value: unknown): void => {
    if (Redacted.isRedacted(value)) {
      found.add(String(Redacted.value(value as Redacted.Redacted<unknown>)))
      return
    }
    if (typeof value === "string") {
      for (const c of urlCredentials(value)) found.add(c)
      return
    }
    if (typeof value !== "object" || value === null || seen.has(value)) return
    seen.add(value)
    for (const v of Array.isArray(value) ? value : Object.values(value)) walk(v)
  }
  walk(settings)
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (SECRET_NAME.test(name)) found.add(value)
    else for (const c of urlCredentials(value)) found.add(c)
  }
  return [...found].filter((s) => s.trim().length > 0)
}
