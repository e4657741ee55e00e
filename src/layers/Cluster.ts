// Cluster mode (SWITCHBOARD_CLUSTER_DATABASE_URL): this daemon is a runner of effect/cluster on
// Postgres. `clusterBase` sits under the core graph (Intake hands requests to their session's entity,
// the Router shares send keys, the RequestLog shares records, receivers run as Singletons);
// `clusterTop` registers this daemon as a host of sessions once its Dispatcher exists.
import { NodeClusterSocket } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Layer, Option } from "effect"
import { RunnerAddress, type Sharding } from "effect/cluster"
import type { SqlClient } from "effect/sql"
import { type ClusterSettings, describeDatabase } from "../config/cluster.ts"
import { ClusterUnavailable } from "../domain/errors.ts"
import { clusterHandoff } from "../cluster/ClusterHandoff.ts"
import { clusterReceivers } from "../cluster/ClusterReceivers.ts"
import { clusterStatus } from "../cluster/clusterStatus.ts"
import { pgConversations } from "../cluster/PgConversations.ts"
import { pgInbox } from "../cluster/PgInbox.ts"
import { pgRequests } from "../cluster/PgRequests.ts"
import { pgSendOnce } from "../cluster/PgSendOnce.ts"
import { sessionControlLayer, sessionEntityLayer } from "../cluster/SessionEntity.ts"
import { createClusterTables } from "../cluster/tables.ts"
import { Receivers } from "../core/Receivers.ts"

const shardingConfig = (s: ClusterSettings) => {
  const expiration = Duration.fromInputUnsafe(s.lockExpiration)
  return {
    // Always given: NodeClusterSocket would otherwise read HOST and PORT from the environment.
    runnerAddress: Option.some(RunnerAddress.make(s.host, s.port)),
    shardsPerGroup: s.shards,
    shardLockExpiration: expiration,
    // Refreshed three times per expiration (and at least every 10 s, effect/cluster's default).
    shardLockRefreshInterval: Duration.min(Duration.divideUnsafe(expiration, 3), Duration.seconds(10)),
    refreshAssignmentsInterval: Duration.min(Duration.divideUnsafe(expiration, 4), Duration.seconds(3)),
    entityMessagePollInterval: s.pollEvery
  }
}

/** What `clusterTop` needs from below (without a cluster it needs nothing: it is empty then). */
type ClusterServices = Receivers | Sharding.Sharding | SqlClient.SqlClient

/** The services below the core graph: without a cluster, only receivers that run here. */
export const clusterBase = (s: ClusterSettings): Layer.Layer<ClusterServices, unknown> =>
  Option.match(s.databaseUrl, {
    onNone: () => Receivers.local as Layer.Layer<ClusterServices>,
    onSome: (url) => {
      const pg = PgClient.layer({ url, applicationName: `switchboard ${s.host}:${s.port}` })
      // The first query: a Postgres that does not answer stops the start with one line naming it.
      const tables = createClusterTables.pipe(
        Effect.mapError((e) => new ClusterUnavailable({ database: describeDatabase(url), reason: e.message }))
      )
      const sharding = NodeClusterSocket.layer({ storage: "sql", shardingConfig: shardingConfig(s) })
      return Layer.mergeAll(clusterHandoff, clusterReceivers, pgSendOnce, pgRequests, pgInbox(1000), pgConversations).pipe(
        Layer.provideMerge(sharding),
        Layer.provide(Layer.effectDiscard(tables)),
        Layer.provideMerge(pg)
      )
    }
  })

/** Above the Dispatcher: this daemon runs the turns of the sessions whose shards it owns. */
export const clusterTop = (s: ClusterSettings) =>
  Option.isNone(s.databaseUrl) ? Layer.empty : Layer.mergeAll(sessionEntityLayer, sessionControlLayer, clusterStatus(s))
