// The `cluster` section of /status and its /health check: this runner's address, the database
// (without credentials), the shard settings, and whether Postgres answers.
import { Duration, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { describeDatabase, type ClusterSettings } from "../config/cluster.ts"
import { type HealthCheck, Status } from "../core/Status.ts"

export const clusterStatus = (settings: ClusterSettings) =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const status = yield* Status
      const sql = yield* SqlClient.SqlClient
      const database = Option.match(settings.databaseUrl, { onNone: () => "", onSome: describeDatabase })
      yield* status.contribute("cluster", Effect.succeed({
        runner: `${settings.host}:${settings.port}`,
        database,
        shards: settings.shards,
        lockExpiration: Duration.format(settings.lockExpiration)
      }))
      yield* status.contributeHealth(
        "cluster",
        sql`SELECT 1`.pipe(
          Effect.timeout("2 seconds"),
          Effect.as<HealthCheck>({ status: "pass" }),
          Effect.catch((e) => Effect.succeed<HealthCheck>({ status: "fail", detail: `Postgres ${database} does not answer: ${e.message}` }))
        )
      )
    })
  )
