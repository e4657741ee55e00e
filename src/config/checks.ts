// Settings of background checks, triage and the digest (issue 12). The checks themselves, their
// webhooks and triage rules are in the file SWITCHBOARD_CHECKS_FILE (validated by src/checks/).
import { Config, Schema } from "effect"
import { duration, optionalString, positiveInt } from "./values.ts"
import { SOURCE_PATTERN } from "../domain/model.ts"

const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** `HH:MM-HH:MM`, local time in SWITCHBOARD_TZ; the range may pass midnight (`23:00-07:00`). */
const QUIET = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/

export const ChecksConfig = Config.all({
  /** JSON file with `checks`, `hooks` and `triage`; none: no checks, no webhooks. */
  file: optionalString("SWITCHBOARD_CHECKS_FILE"),
  /** The chat that hears about a check or hook without a `target` of its own. */
  alertTarget: Config.option(
    Config.schema(
      Schema.String.check(Schema.isPattern(SOURCE_PATTERN, { expected: "a chat such as telegram:123 or http:me" })),
      "SWITCHBOARD_ALERT_TARGET"
    )
  ),
  /** Checks probing at the same moment, at most; the others wait for a free slot. */
  concurrency: positiveInt("SWITCHBOARD_CHECKS_CONCURRENCY", 8),
  digestEvery: duration("SWITCHBOARD_DIGEST_EVERY", "1 hour"),
  /** Items kept per target between digests; the oldest are dropped (and counted) beyond it. */
  digestMaxItems: positiveInt("SWITCHBOARD_DIGEST_MAX_ITEMS", 5000),
  quietHours: Config.option(
    Config.schema(
      Schema.String.check(Schema.isPattern(QUIET, { expected: "a local time range such as 23:00-07:00" })),
      "SWITCHBOARD_QUIET_HOURS"
    )
  ),
  timeZone: Config.schema(
    Schema.String.check(Schema.makeFilter((tz: string) => isTimeZone(tz) ? undefined : "an IANA time zone such as Europe/Berlin or UTC")),
    "SWITCHBOARD_TZ"
  ).pipe(Config.withDefault(Intl.DateTimeFormat().resolvedOptions().timeZone)),
  /** At most this many immediate/notify alerts per target per window; beyond it they go to the digest. */
  stormLimit: positiveInt("SWITCHBOARD_ALERT_STORM_LIMIT", 5),
  stormWindow: duration("SWITCHBOARD_ALERT_STORM_WINDOW", "10 minutes"),
  /** Largest accepted webhook body (GitHub's payloads are often far over SWITCHBOARD_MAX_BODY_BYTES). */
  webhookMaxBytes: positiveInt("SWITCHBOARD_WEBHOOK_MAX_BYTES", 1024 * 1024)
})

export type ChecksSettings = Config.Success<typeof ChecksConfig>
