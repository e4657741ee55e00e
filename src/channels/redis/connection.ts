// ioredis connections as scoped resources, and every command as an Effect with a deadline.
// - The reader: a fresh connection per read session, without ioredis' own reconnects; when it
//   breaks or stalls the session ends, and the next one (after a backoff) starts by reading its
//   own pending entries. XREADGROUP … BLOCK runs only there, so no other command waits behind it.
// - The sender: one connection for switchboard:outbound that ioredis reconnects with capped backoff;
//   no offline queue, so a send while Redis is down fails at once (the Router keeps it in the outbox)
//   instead of piling up or failing later in a MaxRetriesPerRequestError storm.
// No ioredis commandTimeout (it would kill the blocking read): deadlines are Effect timeouts.
import { Effect, Schema, type Scope } from "effect"
import type { Redis, RedisOptions } from "ioredis"
import { reconnectDelayMs } from "./names.ts"

export class RedisError extends Schema.TaggedError<RedisError>()("RedisError", {
  op: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `redis ${this.op}: ${this.reason}`
  }
  /**
   * The group (or the stream) is gone under a live connection: someone deleted it (FLUSHDB, DEL).
   * A blocked read learns it as UNBLOCKED, the next one as NOGROUP.
   */
  get noGroup() {
    return this.reason.startsWith("NOGROUP") || this.reason.startsWith("UNBLOCKED the stream key no longer exists")
  }
}

export interface Connection {
  readonly client: Redis
  /** Run one command; no reply within `timeoutMs` (default: the stall timeout) is a RedisError. */
  readonly run: <A>(op: string, f: (client: Redis) => Promise<A>, timeoutMs?: number) => Effect.Effect<A, RedisError>
}

const reasonOf = (cause: unknown, lastError: string | undefined): string => {
  const message = cause instanceof Error ? cause.message : String(cause)
  // ioredis reports a refused connect as "Connection is closed."; the error event said why.
  return message === "Connection is closed." && lastError !== undefined ? `${message} (${lastError})` : message
}

const connection = (client: Redis, stallMs: number, lastError: () => string | undefined): Connection => ({
  client,
  run: (op, f, timeoutMs = stallMs) =>
    Effect.tryPromise({
      try: () => f(client),
      catch: (cause) => new RedisError({ op, reason: reasonOf(cause, lastError()) })
    }).pipe(
      Effect.timeoutOrElse({
        duration: timeoutMs,
        orElse: () => Effect.fail(new RedisError({ op, reason: `no reply within ${timeoutMs} ms (stalled connection)` }))
      })
    )
})

type Options = Omit<RedisOptions, "replyMapping">

/**
 * Closes on scope exit: QUIT when asked for and the connection is healthy (sender), otherwise — or
 * if QUIT hangs — a hard close (the reader: a QUIT would wait behind its blocking read).
 */
/** ioredis is imported when the bus opens its first connection: a daemon without REDIS_URL never loads it. */
const ioredis = Effect.promise(() => import("ioredis"))

const acquire = (make: () => Redis, quit: boolean) =>
  Effect.acquireRelease(Effect.sync(make), (client) =>
    client.status === "end"
      ? Effect.void
      : !quit
      ? Effect.sync(() => client.disconnect())
      : Effect.promise(() =>
        new Promise<void>((resolve) => {
          client.once("end", () => resolve())
          if (client.status === "ready") client.quit().catch(() => client.disconnect())
          else client.disconnect()
        })
      ).pipe(Effect.timeoutOption("1 second"), Effect.andThen(Effect.sync(() => client.disconnect()))))

/** A connected reader, or a RedisError (refused, or no ready reply within the stall timeout). */
export const openReader = (
  url: string,
  options: { readonly name: string; readonly stallMs: number }
): Effect.Effect<Connection, RedisError, Scope.Scope> =>
  Effect.gen(function*() {
    let lastError: string | undefined
    const settings: Options = {
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: null,
      enableOfflineQueue: false,
      connectTimeout: options.stallMs,
      connectionName: options.name
    }
    const { Redis } = yield* ioredis
    const client = yield* acquire(() => new Redis(url, settings), false)
    client.on("error", (e: Error) => (lastError = e.message))
    const conn = connection(client, options.stallMs, () => lastError)
    yield* conn.run("connect", (c) => c.connect())
    return conn
  })

/** The sender: connects (and reconnects) in the background; never fails to build. */
export const openSender = (
  url: string,
  options: { readonly name: string; readonly stallMs: number; readonly reconnectMaxMs: number }
): Effect.Effect<Connection & { readonly lastError: () => string | undefined }, never, Scope.Scope> =>
  Effect.gen(function*() {
    let lastError: string | undefined
    const settings: Options = {
      retryStrategy: (attempt) => reconnectDelayMs(attempt, options.reconnectMaxMs),
      maxRetriesPerRequest: null,
      enableOfflineQueue: false,
      connectTimeout: options.stallMs,
      // A socket that stops answering while commands wait is dropped and reconnected.
      socketTimeout: options.stallMs,
      connectionName: options.name
    }
    const { Redis } = yield* ioredis
    const client = yield* acquire(() => new Redis(url, settings), true)
    client.on("error", (e: Error) => (lastError = e.message))
    client.on("ready", () => (lastError = undefined))
    return { ...connection(client, options.stallMs, () => lastError), lastError: () => lastError }
  })
