// Who may call the HTTP API. Three kinds of token, any of which may be configured together:
// SWITCHBOARD_API_TOKEN (admin), a generated admin token in <state dir>/api-token
// (SWITCHBOARD_API_TOKEN_GENERATE), and per-client tokens in SWITCHBOARD_API_TOKENS_FILE (each limited
// to its sources). The file is read at start (a bad one refuses the start) and again on SIGHUP or
// POST /v1/admin/reload (a bad one is logged and the tokens in force stay). With no token at all
// (loopback only) every caller is the one local principal.
import { randomBytes, timingSafeEqual } from "node:crypto"
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Context, Effect, FiberSet, Layer, Option, Redacted, Ref, Schema } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { GENERATED_TOKEN_FILE } from "../../config/values.ts"
import { everyone, parseTokensFile, type Principal, type TokenEntry } from "./tokensFile.ts"

export class ApiTokensFileInvalid extends Schema.TaggedError<ApiTokensFileInvalid>()("ApiTokensFileInvalid", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `SWITCHBOARD_API_TOKENS_FILE: ${this.path}: ${this.reason}`
  }
}

const sameSecret = (a: string, b: string) => {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

const readTokensFile = (path: string) =>
  Effect.try({
    try: () => readFileSync(path, "utf8"),
    catch: (e) => new ApiTokensFileInvalid({ path, reason: `cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})` })
  }).pipe(
    Effect.flatMap((text) => {
      const parsed = parseTokensFile(text)
      return "error" in parsed
        ? Effect.fail(new ApiTokensFileInvalid({ path, reason: parsed.error }))
        : Effect.succeed(parsed.entries)
    })
  )

/** The token kept in the state dir from an earlier start, or a new one written there 0600. */
const generatedToken = (stateDir: string) =>
  Effect.sync(() => {
    const path = join(stateDir, GENERATED_TOKEN_FILE)
    try {
      const kept = readFileSync(path, "utf8").trim()
      if (kept.length >= 16) {
        chmodSync(path, 0o600)
        return { path, token: kept, created: false }
      }
    } catch {
      // none yet: write one
    }
    mkdirSync(stateDir, { recursive: true })
    const token = randomBytes(32).toString("base64url")
    writeFileSync(path, token + "\n", { mode: 0o600 })
    chmodSync(path, 0o600)
    return { path, token, created: true }
  })

export class ApiTokens extends Context.Service<ApiTokens, {
  /** True when any token is configured: a request without a good one is refused. */
  readonly required: boolean
  /** The principal a bearer token stands for; None when it is missing or wrong (while tokens are required). */
  readonly authenticate: (bearer: string | undefined) => Effect.Effect<Option.Option<Principal>>
  /** Re-read SWITCHBOARD_API_TOKENS_FILE; the tokens in force stay when it is bad. Returns how many it holds. */
  readonly reload: Effect.Effect<number | undefined, ApiTokensFileInvalid>
}>()("switchboard/ApiTokens") {
  static readonly layer = Layer.effect(
    ApiTokens,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const admins: Array<Redacted.Redacted<string>> = Option.toArray(config.http.apiToken)
      if (Option.isNone(config.http.apiToken) && config.http.generateToken) {
        const generated = yield* generatedToken(config.stateDir)
        admins.push(Redacted.make(generated.token))
        yield* Effect.logInfo(
          `${generated.created ? "generated an" : "using the"} API token in ${generated.path} (mode 0600); the CLI reads it from there`
        ).pipe(Effect.annotateLogs({ path: generated.path }))
      }
      const file = config.http.apiTokensFile
      const perClient = yield* Ref.make<ReadonlyArray<TokenEntry>>(
        Option.isSome(file) ? yield* readTokensFile(file.value) : []
      )
      const required = admins.length > 0 || Option.isSome(file)
      const local = everyone("local")
      const admin = everyone("admin")

      const authenticate = (bearer: string | undefined) =>
        Effect.gen(function*() {
          if (!required) return Option.some(local)
          if (bearer === undefined) return Option.none()
          // Every token is compared (in constant time each), so timing says nothing about which matched.
          let found: Principal | undefined
          for (const t of admins) if (sameSecret(bearer, Redacted.value(t))) found = admin
          for (const e of yield* Ref.get(perClient)) if (sameSecret(bearer, Redacted.value(e.token))) found ??= e.principal
          return Option.fromNullishOr(found)
        })

      const reload = Option.isNone(file)
        ? Effect.succeed(undefined)
        : readTokensFile(file.value).pipe(
          Effect.tap((entries) => Ref.set(perClient, entries)),
          Effect.map((entries) => entries.length),
          Effect.tap((n) => Effect.logInfo(`re-read ${n} API token(s) from ${file.value}`)),
          Effect.tapError((e) => Effect.logError(`${e.message}; the tokens in force stay`))
        )

      return ApiTokens.of({ required, authenticate, reload })
    })
  )

  /** SIGHUP re-reads the tokens file too. For the daemon only. */
  static readonly sighup = Layer.effectDiscard(
    Effect.gen(function*() {
      const tokens = yield* ApiTokens
      const run = yield* FiberSet.makeRuntime<never>()
      const onHup = () => {
        run(Effect.ignore(tokens.reload))
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => process.on("SIGHUP", onHup)),
        () => Effect.sync(() => process.off("SIGHUP", onHup))
      )
    })
  )
}
