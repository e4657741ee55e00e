// The CLI finds its token the way the daemon's own are given: --token or SWITCHBOARD_API_TOKEN,
// then SWITCHBOARD_API_TOKEN_FILE, then the token the daemon generated into its state dir
// (SWITCHBOARD_API_TOKEN_GENERATE), readable by the user who runs both.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Option, Redacted } from "effect"
import { GENERATED_TOKEN_FILE } from "../config/values.ts"

const readToken = (path: string): string | undefined => {
  try {
    const text = readFileSync(path, "utf8").replace(/\r?\n$/, "")
    return text.trim().length > 0 ? text : undefined
  } catch {
    return undefined
  }
}

export const cliToken = (
  given: Option.Option<Redacted.Redacted<string>>,
  env: NodeJS.ProcessEnv = process.env
): Option.Option<Redacted.Redacted<string>> => {
  if (Option.isSome(given)) return given
  const file = env["SWITCHBOARD_API_TOKEN_FILE"]
  const fromFile = file !== undefined && file !== "" ? readToken(file) : undefined
  const generated = fromFile ?? readToken(join(env["SWITCHBOARD_STATE_DIR"] || "./.switchboard", GENERATED_TOKEN_FILE))
  return generated === undefined ? Option.none() : Option.some(Redacted.make(generated))
}
