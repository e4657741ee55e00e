// `switchboard checks` (a table of the background checks) and `switchboard digest --now`.
import { Console, Effect, type Option, type Redacted } from "effect"
import { GatewayClient } from "./client.ts"

export interface CheckLine {
  readonly name: string
  readonly kind: string
  readonly state: string
  readonly since: string
  readonly lastRunAt: string | null
  readonly lastDetail: string | null
  readonly nextRunAt: string | null
}

const time = (iso: string | null) => (iso === null ? "-" : iso.replace("T", " ").slice(0, 19))

/** One row per check: NAME KIND STATE SINCE LAST RUN NEXT RUN DETAIL, columns aligned. */
export const formatChecks = (checks: ReadonlyArray<CheckLine>): string => {
  if (checks.length === 0) return "no checks (set SWITCHBOARD_CHECKS_FILE)"
  const rows = [
    ["NAME", "KIND", "STATE", "SINCE", "LAST RUN", "NEXT RUN", "DETAIL"],
    ...checks.map((c) => [c.name, c.kind, c.state, time(c.since), time(c.lastRunAt), time(c.nextRunAt), (c.lastDetail ?? "").slice(0, 80)])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n")
}

const failWith = (e: { readonly message: string }) =>
  Effect.sync(() => {
    process.stderr.write(`switchboard: ${e.message}\n`)
    process.exitCode = 1
  })

export const checksCommand = (baseUrl: string, token: Option.Option<Redacted.Redacted<string>>, json: boolean) =>
  Effect.gen(function*() {
    const { checks } = yield* (yield* GatewayClient).getJson<{ checks: ReadonlyArray<CheckLine> }>("/v1/checks")
    yield* Console.log(json ? JSON.stringify(checks, null, 2) : formatChecks(checks))
  }).pipe(Effect.provide(GatewayClient.layer(baseUrl, token)), Effect.catch(failWith))

interface Flushed {
  readonly target: string
  readonly items: number
  readonly messages: number
  readonly outcome: string
  readonly error?: string
}

export const digestCommand = (baseUrl: string, token: Option.Option<Redacted.Redacted<string>>) =>
  Effect.gen(function*() {
    const { flushed } = yield* (yield* GatewayClient).postJson<{ flushed: ReadonlyArray<Flushed> }>("/v1/digest/flush", {})
    if (flushed.length === 0) return yield* Console.log("the digest is empty: nothing sent")
    for (const f of flushed) {
      yield* Console.log(
        `${f.target}: ${f.items} item(s) in ${f.messages} message(s), ${f.outcome}${f.error ? ` (${f.error})` : ""}`
      )
    }
    if (flushed.some((f) => f.outcome === "failed")) process.exitCode = 1
  }).pipe(Effect.provide(GatewayClient.layer(baseUrl, token)), Effect.catch(failWith))
