// Building blocks for configuration sections: each reads one variable, with its default and its check.
// A feature with settings of its own puts its section in a file of this folder and adds one line to
// ConfigSchema (GatewayConfig.ts).
import { Config, Duration, Schema } from "effect"

export const isLoopback = (host: string) =>
  host === "localhost" || host === "::1" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host)

/** Comma list → trimmed non-empty items. */
export const commaList = (name: string) =>
  Config.String(name).pipe(
    Config.withDefault(""),
    Config.map((s) => s.split(",").map((x) => x.trim()).filter((x) => x.length > 0))
  )

export const optionalString = (name: string) => Config.option(Config.NonEmptyString(name))
export const optionalSecret = (name: string) => Config.option(Config.Redacted(name))

export const positiveInt = (name: string, fallback: number) =>
  Config.schema(
    Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0, { expected: "a positive whole number" })),
    name
  ).pipe(Config.withDefault(fallback))

export const port = (name: string, fallback: number, minimum = 0) =>
  Config.schema(
    Schema.NumberFromString.check(
      Schema.isInt(),
      Schema.isBetween({ minimum, maximum: 65535 }, { expected: `a port number from ${minimum} to 65535` })
    ),
    name
  ).pipe(Config.withDefault(fallback))

export const duration = (name: string, fallback: Duration.Input) =>
  Config.Duration(name).pipe(Config.withDefault(Duration.fromInputUnsafe(fallback)))

export const httpUrl = (name: string, fallback: string) =>
  Config.schema(
    Schema.String.check(Schema.isPattern(/^https?:\/\/\S+$/, { expected: "an http(s) URL" })),
    name
  ).pipe(Config.withDefault(fallback), Config.map((s) => s.replace(/\/+$/, "")))

/** The generated API token's file in the state dir (SWITCHBOARD_API_TOKEN_GENERATE); the CLI reads it too. */
export const GENERATED_TOKEN_FILE = "api-token"
