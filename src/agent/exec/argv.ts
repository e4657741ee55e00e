// exec commands are argv, never a shell line. A string is split on whitespace with quotes kept
// together; shell operators are refused with a clear reason instead of being passed on. Pure.

export type ParsedCommand =
  | { readonly _tag: "Argv"; readonly argv: ReadonlyArray<string> }
  | { readonly _tag: "Refused"; readonly reason: string }

const OPERATORS = ["&&", "||", ";", "|", "&", ">", "<", "`", "$("]

export const parseCommand = (command: string | ReadonlyArray<string>): ParsedCommand => {
  if (typeof command !== "string") {
    if (command.length === 0 || command[0]!.trim() === "") return { _tag: "Refused", reason: "the command is empty" }
    return { _tag: "Argv", argv: command }
  }
  const argv: Array<string> = []
  let current = ""
  let inToken = false
  let quote: "'" | "\"" | undefined
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!
    if (quote !== undefined) {
      if (c === quote) quote = undefined
      else if (c === "\\" && quote === "\"" && i + 1 < command.length) current += command[++i]
      else current += c
      continue
    }
    if (c === "'" || c === "\"") {
      quote = c
      inToken = true
      continue
    }
    if (/\s/.test(c)) {
      if (inToken) argv.push(current)
      current = ""
      inToken = false
      continue
    }
    const op = OPERATORS.find((o) => command.startsWith(o, i))
    if (op !== undefined) {
      return {
        _tag: "Refused",
        reason: `exec runs one program with its arguments, not a shell: "${op}" is not supported (pass argv)`
      }
    }
    if (c === "\\" && i + 1 < command.length) {
      current += command[++i]
      inToken = true
      continue
    }
    current += c
    inToken = true
  }
  if (quote !== undefined) return { _tag: "Refused", reason: "the command has an unclosed quote" }
  if (inToken) argv.push(current)
  if (argv.length === 0) return { _tag: "Refused", reason: "the command is empty" }
  return { _tag: "Argv", argv }
}

/** Allowed when argv[0] is listed exactly (a bare name in the list does not allow a path). */
export const isAllowed = (allow: ReadonlyArray<string>, program: string): boolean => allow.includes(program)

/** The last `cap` bytes of output, on a character boundary. */
export const tailOf = (text: string, cap: number): string => {
  const bytes = Buffer.from(text, "utf8")
  if (bytes.length <= cap) return text
  return bytes.subarray(bytes.length - cap).toString("utf8").replace(/^\uFFFD+/, "")
}

/**
 * Variables an exec'd program inherits from the daemon. Allowlist, not denylist: the daemon's
 * environment holds the model key, the bot token, the API token and whatever else its unit file
 * sets; an allowed program that prints its environment must not put them into the chat, the
 * model's context or `GET /v1/jobs`. More names pass with SWITCHBOARD_EXEC_ENV.
 */
const BASE_ENV = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM"]

export const execEnvironment = (
  env: Readonly<Record<string, string | undefined>>,
  extra: ReadonlyArray<string> = []
): Record<string, string> => {
  const passed: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (BASE_ENV.includes(name) || name.startsWith("LC_") || extra.includes(name)) passed[name] = value
  }
  return passed
}
