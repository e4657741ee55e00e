// Reading the checks file and the secrets its hooks name, at start and on reload. A problem is one
// ChecksFileInvalid naming the file and what is wrong; the caller decides whether that stops the
// daemon (start) or keeps the running checks (reload).
import { readFileSync } from "node:fs"
import { Config, ConfigProvider, Effect, Option, type Redacted, Schema } from "effect"
import type { ChecksSettings } from "../config/checks.ts"
import { type ChecksPlan, parseChecksFile } from "./checkFile.ts"

export class ChecksFileInvalid extends Schema.TaggedError<ChecksFileInvalid>()("ChecksFileInvalid", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `SWITCHBOARD_CHECKS_FILE: ${this.file}: ${this.reason}`
  }
}

export interface LoadedPlan {
  readonly plan: ChecksPlan
  /** Each hook's secret, by hook name. */
  readonly secrets: ReadonlyMap<string, Redacted.Redacted<string>>
}

const EMPTY: LoadedPlan = { plan: { checks: [], hooks: [], rules: [] }, secrets: new Map() }

/** The plan in SWITCHBOARD_CHECKS_FILE (none set: nothing to run). */
export const loadPlan = (settings: ChecksSettings, redisConfigured: boolean) =>
  Effect.gen(function*() {
    if (Option.isNone(settings.file)) return EMPTY
    const file = settings.file.value
    const text = yield* Effect.try({
      try: () => readFileSync(file, "utf8"),
      catch: (e) => new ChecksFileInvalid({ file, reason: `cannot read it (${(e as Error).message})` })
    })
    const provider = yield* ConfigProvider.ConfigProvider
    const secret = (name: string) => Config.Redacted(name).parse(provider).pipe(Effect.option)
    // The plan is checked first with "is it set?" answered from the environment, then secrets are read.
    const known = new Map<string, Option.Option<Redacted.Redacted<string>>>()
    const names = [...text.matchAll(/"secret"\s*:\s*"([A-Z_][A-Z0-9_]*)"/g)].map((m) => m[1]!)
    for (const name of names) known.set(name, yield* secret(name))
    const plan = parseChecksFile(text, {
      alertTarget: Option.getOrUndefined(settings.alertTarget),
      redisConfigured,
      hasVariable: (name) => Option.isSome(known.get(name) ?? Option.none())
    })
    if (typeof plan === "string") return yield* new ChecksFileInvalid({ file, reason: plan })
    const secrets = new Map<string, Redacted.Redacted<string>>()
    for (const hook of plan.hooks) {
      const value = known.get(hook.secretVar)
      if (value !== undefined && Option.isSome(value)) secrets.set(hook.name, value.value)
    }
    return { plan, secrets } satisfies LoadedPlan
  })
