// Bounds on what HTTP clients can hold open: connections, concurrent long-polls, and how long a
// request may take to arrive. The connection cap is also kept below the process's file
// descriptor limit at start (see channels/http/limits.ts).
import { Config } from "effect"
import { duration, positiveInt } from "./values.ts"

export const HttpLimitsConfig = Config.all({
  maxConnections: positiveInt("SWITCHBOARD_HTTP_MAX_CONNECTIONS", 512),
  /** Concurrent `?wait=` requests (long-polls); beyond them 503 `too_many_waiters`. */
  maxWaiters: positiveInt("SWITCHBOARD_HTTP_MAX_WAITERS", 256),
  /** The whole request (headers and body) must have arrived within this. */
  requestTimeout: duration("SWITCHBOARD_HTTP_REQUEST_TIMEOUT", "30 seconds"),
  headersTimeout: duration("SWITCHBOARD_HTTP_HEADERS_TIMEOUT", "10 seconds")
})
