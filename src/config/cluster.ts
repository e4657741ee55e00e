// Settings of cluster mode (src/cluster/): on when SWITCHBOARD_CLUSTER_DATABASE_URL is set. Every
// daemon is then a runner of effect/cluster on that Postgres. The URL may carry a password, so it is
// kept Redacted; /status shows host, port and database only.
import { Config, Option, Redacted, Schema } from "effect"
import { duration, port, positiveInt } from "./values.ts"

export const clusterConfig = Config.all({
  databaseUrl: Config.option(
    Config.schema(
      Schema.String.check(Schema.isPattern(/^postgres(ql)?:\/\/\S+$/, { expected: "a postgres:// URL" })),
      "SWITCHBOARD_CLUSTER_DATABASE_URL"
    )
  ).pipe(Config.map(Option.map((url) => Redacted.make(url)))),
  /** This runner's address: it listens there and the other runners connect to it. */
  host: Config.String("SWITCHBOARD_CLUSTER_HOST").pipe(Config.withDefault("127.0.0.1")),
  port: port("SWITCHBOARD_CLUSTER_PORT", 7421, 1),
  /** Sessions map to shards by this number: it must be the same on every daemon. */
  shards: positiveInt("SWITCHBOARD_CLUSTER_SHARDS", 300),
  /** How long a dead daemon's shards stay locked: the stall before its sessions move. */
  lockExpiration: duration("SWITCHBOARD_CLUSTER_LOCK_EXPIRATION", "35 seconds"),
  /** How often each runner reads stored messages it has not been sent directly (after a takeover). */
  pollEvery: duration("SWITCHBOARD_CLUSTER_POLL_EVERY", "1 second")
})

export type ClusterSettings = Config.Success<typeof clusterConfig>

/** `host:port/database` of the cluster's Postgres, without credentials (for /status and logs). */
export const describeDatabase = (url: Redacted.Redacted<string>): string => {
  try {
    const u = new URL(Redacted.value(url))
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`
  } catch {
    return "(unparsable url)"
  }
}
