// All configuration, read once at start with Effect Config and validated there. A bad value stops
// the daemon with one line naming the variable (see config/environment.ts). Secrets are Redacted.
import { Config, ConfigProvider, Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import { AgentsConfig } from "./agentsFile.ts"
import { ChecksConfig } from "./checks.ts"
import { clusterConfig } from "./cluster.ts"
import { DashboardConfig } from "./dashboard.ts"
import { DiscordConfig } from "./discord.ts"
import { redisConfig } from "./redis.ts"
import { slackSettings } from "./slack.ts"
import { storeConfig } from "./store.ts"
import { TelegramConfig } from "./telegram.ts"
import { execSection } from "./exec.ts"
import { HttpLimitsConfig } from "./httpLimits.ts"
import { OtelConfig } from "./otel.ts"
import { MemoryConfig } from "./memory.ts"
import { commaList, duration, httpUrl, isLoopback, optionalSecret, optionalString, port, positiveInt } from "./values.ts"

export const ConfigSchema = Config.all({
  http: Config.all({
    host: Config.String("SWITCHBOARD_HTTP_HOST").pipe(Config.withDefault("127.0.0.1")),
    // 0 asks the OS for a free port (tests, benchmarks); the bound URL is logged.
    port: port("SWITCHBOARD_HTTP_PORT", 7420),
    apiToken: optionalSecret("SWITCHBOARD_API_TOKEN"),
    /** Per-client tokens: JSON, token → the sources it may use and whether it is an admin. */
    apiTokensFile: optionalString("SWITCHBOARD_API_TOKENS_FILE"),
    /** Without SWITCHBOARD_API_TOKEN: generate an admin token into <state dir>/api-token (0600). */
    generateToken: Config.Boolean("SWITCHBOARD_API_TOKEN_GENERATE").pipe(Config.withDefault(false)),
    maxBodyBytes: positiveInt("SWITCHBOARD_MAX_BODY_BYTES", 64 * 1024),
    maxWait: duration("SWITCHBOARD_MAX_WAIT", "60 seconds")
  }),
  httpLimits: HttpLimitsConfig,
  memory: MemoryConfig,
  stateDir: Config.String("SWITCHBOARD_STATE_DIR").pipe(Config.withDefault("./.switchboard")),
  store: storeConfig,
  queue: Config.all({
    cap: positiveInt("SWITCHBOARD_QUEUE_CAP", 1000),
    agingAfter: duration("SWITCHBOARD_QUEUE_AGING", "2 minutes"),
    dedupeWindow: duration("SWITCHBOARD_DEDUPE_WINDOW", "1 hour")
  }),
  turn: Config.all({
    timeout: duration("SWITCHBOARD_TURN_TIMEOUT", "5 minutes"),
    /** On SIGTERM, how long a running turn may still finish before it is interrupted. */
    shutdownGrace: duration("SWITCHBOARD_SHUTDOWN_GRACE", "10 seconds")
  }),
  heartbeat: Config.all({
    every: duration("SWITCHBOARD_HEARTBEAT_EVERY", "15 minutes"),
    /** Wake requests inside this window merge into one run. */
    coalesce: duration("SWITCHBOARD_HEARTBEAT_COALESCE", "250 millis"),
    /** A wake that cannot proceed (relay in flight, queue full) runs again after at least this long. */
    retryDelay: duration("SWITCHBOARD_HEARTBEAT_RETRY", "1 second"),
    /** Pending system events kept per session key; the oldest is dropped (and counted) beyond it. */
    eventsPerKey: positiveInt("SWITCHBOARD_SYSTEM_EVENTS_PER_KEY", 20),
    /** Slack on top of two intervals before the tripwire counts as stale (watchdog, /health). */
    watchdogGrace: duration("SWITCHBOARD_WATCHDOG_GRACE", "30 seconds")
  }),
  model: Config.all({
    provider: Config.Literals(["echo", "openai"], "SWITCHBOARD_MODEL_PROVIDER").pipe(Config.withDefault("echo")),
    name: Config.String("SWITCHBOARD_MODEL").pipe(Config.withDefault("gpt-4.1-mini")),
    baseUrl: httpUrl("OPENAI_BASE_URL", "https://api.openai.com/v1"),
    apiKey: optionalSecret("OPENAI_API_KEY"),
    /** SSE streaming lets the first-token timeout notice a stalled provider early. */
    stream: Config.Boolean("SWITCHBOARD_MODEL_STREAM").pipe(Config.withDefault(true)),
    firstTokenTimeout: duration("SWITCHBOARD_MODEL_FIRST_TOKEN_TIMEOUT", "45 seconds"),
    requestTimeout: duration("SWITCHBOARD_MODEL_TIMEOUT", "3 minutes"),
    /** Attempts per model request, the first included (429, 5xx, connection errors are retried). */
    attempts: positiveInt("SWITCHBOARD_MODEL_ATTEMPTS", 4),
    retryBaseDelay: duration("SWITCHBOARD_MODEL_RETRY_DELAY", "500 millis"),
    retryMaxDelay: duration("SWITCHBOARD_MODEL_RETRY_MAX_DELAY", "30 seconds"),
    fallback: Config.all({
      name: optionalString("SWITCHBOARD_FALLBACK_MODEL"),
      baseUrl: Config.option(httpUrl("SWITCHBOARD_FALLBACK_BASE_URL", "")).pipe(
        Config.map(Option.filter((s) => s.length > 0))
      ),
      apiKey: optionalSecret("SWITCHBOARD_FALLBACK_API_KEY"),
      /** Consecutive failed requests before turns go to the fallback. */
      after: positiveInt("SWITCHBOARD_FALLBACK_AFTER", 3),
      probeEvery: duration("SWITCHBOARD_FALLBACK_PROBE_EVERY", "1 minute")
    }),
    systemPromptFile: optionalString("SWITCHBOARD_SYSTEM_PROMPT_FILE"),
    maxSteps: positiveInt("SWITCHBOARD_MAX_TOOL_STEPS", 8),
    /** Estimated tokens of history that trigger compaction. */
    tokenBudget: positiveInt("SWITCHBOARD_TOKEN_BUDGET", 60_000),
    /** Recent user turns kept verbatim when older ones are summarised. */
    keepTurns: positiveInt("SWITCHBOARD_COMPACT_KEEP_TURNS", 4),
    askTimeout: duration("SWITCHBOARD_ASK_TIMEOUT", "2 minutes")
  }),
  agents: AgentsConfig,
  exec: execSection,
  telegram: TelegramConfig,
  discord: DiscordConfig,
  slack: slackSettings,
  redis: redisConfig,
  cluster: clusterConfig,
  checks: ChecksConfig,
  dashboard: DashboardConfig,
  otel: OtelConfig,
  log: Config.all({
    level: Config.LogLevel("SWITCHBOARD_LOG_LEVEL").pipe(Config.withDefault("Info")),
    /** None: `pretty` when stdout is a terminal, `json` otherwise (decided in layers/Observability.ts). */
    format: Config.option(Config.Literals(["json", "pretty"], "SWITCHBOARD_LOG_FORMAT"))
  })
})

export type GatewaySettings = Config.Success<typeof ConfigSchema>

/** Raised when values are individually valid but do not make sense together. */
export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  variable: Schema.String,
  expected: Schema.String
}) {
  override get message() {
    return `${this.variable}: ${this.expected}`
  }
}

/** Some token guards the API: the admin token, a generated one, or per-client tokens. */
export const hasApiTokens = (s: GatewaySettings) =>
  Option.isSome(s.http.apiToken) || Option.isSome(s.http.apiTokensFile) || s.http.generateToken

/** `scheme://user:password@host`: a credential in a URL reaches logs, spans and /status. */
const hasCredentials = (url: string) => /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)

const invalid = (variable: string, expected: string) => Effect.fail(new ConfigInvalid({ variable, expected }))

export const validate = (s: GatewaySettings): Effect.Effect<GatewaySettings, ConfigInvalid> => {
  if (!isLoopback(s.http.host) && !hasApiTokens(s)) {
    return invalid(
      "SWITCHBOARD_API_TOKEN",
      `required when SWITCHBOARD_HTTP_HOST (${s.http.host}) is not a loopback address (or SWITCHBOARD_API_TOKENS_FILE, or SWITCHBOARD_API_TOKEN_GENERATE=true)`
    )
  }
  if (Option.isSome(s.http.apiToken)) {
    const token = Redacted.value(s.http.apiToken.value)
    if (token.length < 2 || /\s/.test(token)) {
      return invalid("SWITCHBOARD_API_TOKEN", "a token of at least 2 characters without spaces (SWITCHBOARD_API_TOKEN_GENERATE=true makes a strong one)")
    }
  }
  const urls: ReadonlyArray<readonly [string, string | undefined, string]> = [
    ["OPENAI_BASE_URL", s.model.baseUrl, "OPENAI_API_KEY"],
    ["SWITCHBOARD_FALLBACK_BASE_URL", Option.getOrUndefined(s.model.fallback.baseUrl), "SWITCHBOARD_FALLBACK_API_KEY"]
  ]
  for (const [variable, url, key] of urls) {
    if (url !== undefined && hasCredentials(url)) {
      return invalid(variable, `a URL without credentials (user:password@); put the key in ${key}`)
    }
  }
  return Effect.succeed(s)
}

export class GatewayConfig extends Context.Service<GatewayConfig, GatewaySettings>()("switchboard/GatewayConfig") {
  /** From the environment (and anything the ConfigProvider adds, e.g. a config file). */
  static readonly layer = Layer.effect(
    GatewayConfig,
    Effect.gen(function*() {
      const settings = yield* ConfigSchema
      return yield* validate(settings)
    })
  )

  /** Defaults with overrides, for tests. */
  static readonly test = (patch: (s: GatewaySettings) => GatewaySettings = (s) => s) =>
    Layer.effect(
      GatewayConfig,
      ConfigSchema.parse(ConfigProvider.fromEnv({ env: {} })).pipe(Effect.orDie, Effect.map(patch))
    )
}

export const redactedOption = (o: Option.Option<Redacted.Redacted<string>>) =>
  Option.map(o, Redacted.value)
