// `switchboard jobs`: the exec jobs the daemon knows about, one line each.
import { Console, Effect, type Option, type Redacted } from "effect"
import { GatewayClient, withClient } from "./client.ts"

export interface JobLine {
  readonly id: string
  readonly argv: ReadonlyArray<string>
  readonly sessionKey: string
  readonly state: string
  readonly exitCode: number | null
  readonly startedAt: string
  readonly finishedAt: string | null
}

export const formatJobs = (jobs: ReadonlyArray<JobLine>): string =>
  jobs.length === 0
    ? "no jobs"
    : jobs
      .map((j) =>
        `${j.id}  ${j.state.padEnd(15)} ${j.exitCode === null ? "    " : `exit ${String(j.exitCode).padEnd(3)}`}  ${j.sessionKey}  ${
          j.argv.join(" ")
        }  (started ${j.startedAt})`
      )
      .join("\n")

/** Print the daemon's jobs (GET /v1/jobs). Failures print one line and set exit code 1. */
export const jobsCommand = (baseUrl: string, token: Option.Option<Redacted.Redacted<string>>, json = false) =>
  Effect.gen(function*() {
    const client = yield* GatewayClient
    const { jobs } = yield* client.getJson<{ jobs: ReadonlyArray<JobLine> }>("/v1/jobs")
    yield* Console.log(json ? JSON.stringify(jobs, null, 2) : formatJobs(jobs))
  }).pipe(withClient(baseUrl, token))
