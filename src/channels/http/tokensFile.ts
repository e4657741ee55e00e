// Per-client API tokens (SWITCHBOARD_API_TOKENS_FILE): a JSON object from token to what it may do,
// `{ "<token>": { "sources": ["http:alice", "cli:alice"], "admin": false } }`. Decoded with Schema;
// tokens become Redacted at once. Pure: reading the file and reloading it is ApiTokens' job.
import { Cause, Redacted, Schema } from "effect"

/** Who is calling: which sources it may speak for, read and stop, and whether admin routes are open to it. */
export interface Principal {
  /** For logs: the first source, `admin`, or `local` (no token configured). Never the token. */
  readonly name: string
  readonly admin: boolean
  /** Exact sources, or prefixes ending in `*` (`http:team-*`). An admin may use any source. */
  readonly sources: ReadonlyArray<string>
}

/** Without any token (loopback only) every local user is this one principal; so is the admin token. */
export const everyone = (name: string): Principal => ({ name, admin: true, sources: [] })

export const mayUse = (principal: Principal, source: string): boolean =>
  principal.admin ||
  principal.sources.some((p) => (p.endsWith("*") ? source.startsWith(p.slice(0, -1)) : p === source))

const SourcePattern = Schema.String.check(
  Schema.isPattern(/^[a-z][a-z0-9-]*:(?:[A-Za-z0-9._@:-]{1,64}\*?|\*)$/, {
    expected: "a source such as http:alice, or a prefix ending in * (http:team-*)"
  })
)

const Entry = Schema.Struct({
  sources: Schema.Array(SourcePattern),
  admin: Schema.optional(Schema.Boolean)
})

/** Keys are tokens: checked by hand (a Record's key check drops a bad key silently). */
const TOKEN = /^[\x21-\x7e]{16,512}$/

const TokensFile = Schema.Record(Schema.String, Entry)

export interface TokenEntry {
  readonly token: Redacted.Redacted<string>
  readonly principal: Principal
}

/** The file's text → its entries, or a one-line reason (which never shows a token). */
export const parseTokensFile = (text: string): { readonly entries: ReadonlyArray<TokenEntry> } | { readonly error: string } => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return { error: `not valid JSON (${(e as Error).message})` }
  }
  const decoded = Schema.decodeUnknownExit(TokensFile)(json)
  if (decoded._tag === "Failure") {
    // The schema's message names the path, whose first key is a token: never show it.
    const keys = typeof json === "object" && json !== null ? Object.keys(json) : []
    let message = Cause.squash(decoded.cause) instanceof Error ? (Cause.squash(decoded.cause) as Error).message : "invalid"
    for (const key of keys) message = message.split(JSON.stringify(key)).join("<token>").split(key).join("<token>")
    return { error: message.replace(/\s+/g, " ").trim() }
  }
  if (Object.keys(decoded.value).some((token) => !TOKEN.test(token))) {
    return { error: "tokens must be 16-512 printable characters without spaces" }
  }
  const entries: Array<TokenEntry> = []
  for (const [token, entry] of Object.entries(decoded.value)) {
    const admin = entry.admin ?? false
    if (!admin && entry.sources.length === 0) return { error: "a token that is not admin needs at least one source" }
    entries.push({
      token: Redacted.make(token),
      principal: { name: admin ? "admin" : entry.sources[0]!, admin, sources: entry.sources }
    })
  }
  return { entries }
}
