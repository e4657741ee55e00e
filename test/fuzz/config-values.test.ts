// Fuzzing configuration values: whatever the environment holds, the start either gets settings or
// stops with one line naming a variable — never a crash, never a secret in the line.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import fc from "fast-check"
import { configProviderLayer, describeStartupFailure, StartupFailure } from "../../src/config/environment.ts"
import { GatewayConfig } from "../../src/config/GatewayConfig.ts"
import { fuzzParameters } from "./budget.ts"

const VARIABLES = [
  "SWITCHBOARD_HTTP_HOST", "SWITCHBOARD_HTTP_PORT", "SWITCHBOARD_API_TOKEN", "SWITCHBOARD_QUEUE_CAP", "SWITCHBOARD_QUEUE_AGING",
  "SWITCHBOARD_HEARTBEAT_EVERY", "SWITCHBOARD_MODEL_PROVIDER", "OPENAI_BASE_URL", "OPENAI_API_KEY", "SWITCHBOARD_MAX_BODY_BYTES",
  "SWITCHBOARD_LOG_LEVEL", "SWITCHBOARD_LOG_FORMAT", "SWITCHBOARD_EXEC_ALLOW", "TELEGRAM_ALLOWED_CHAT_IDS", "SWITCHBOARD_MODEL_STREAM",
  "SWITCHBOARD_REQUEST_LOG_BYTES", "SWITCHBOARD_STORED_REPLY_BYTES", "SWITCHBOARD_API_TOKEN_GENERATE", "SWITCHBOARD_TURN_TIMEOUT",
  "OTEL_EXPORTER_OTLP_ENDPOINT", "SWITCHBOARD_HTTP_MAX_CONNECTIONS"
] as const

/** The secret planted in every run: it must never be in the failure line. */
const SECRET = "pl4nted-s3cret-value"

const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom("", " ", "0", "-1", "1e309", "NaN", "65536", "abc", "true", "yes", "10 seconds", "forever", "https://u:p@h/v1",
    "http://[::1", "echo", "openai", "127.0.0.1", "0.0.0.0", "a,,b", "x".repeat(5000)),
  fc.integer().map(String)
)

const environment = fc.dictionary(fc.constantFrom(...VARIABLES), value, { maxKeys: 6 })

describe("fuzz: configuration values", () => {
  it("any environment gives settings or one clear line, never a crash or a secret", async () => {
    await fc.assert(
      fc.asyncProperty(environment, async (env) => {
        const full: Record<string, string> = { ...env, SWITCHBOARD_FALLBACK_API_KEY: SECRET }
        let exit: Exit.Exit<unknown, unknown>
        try {
          exit = await Effect.runPromiseExit(
            Effect.scoped(Layer.build(GatewayConfig.layer.pipe(Layer.provide(configProviderLayer(full)))))
          )
        } catch (e) {
          assert.instanceOf(e, StartupFailure) // the config file and secret files fail this way
          return
        }
        if (Exit.isSuccess(exit)) return
        assert.isFalse(exit.cause.reasons.some((r) => r._tag === "Die"), `a defect: ${String(exit.cause)}`)
        const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
        const line = describeStartupFailure(failure?._tag === "Fail" ? failure.error : undefined, full)
        assert.notInclude(line, "\n")
        assert.notInclude(line, SECRET)
        assert.match(line, /^invalid configuration: [A-Z_]+/, line)
      }),
      fuzzParameters(300)
    )
  })
})
