// Socket Mode: one WebSocket to Slack (its URL from apps.connections.open on SLACK_API_ROOT), over
// @slack/socket-mode with its own reconnection off, because this loop decides: a connection Slack
// asks us to refresh (`disconnect`) is replaced at once; a failed or dropped one is retried with
// backoff (1 s, 2 s, … 30 s), and /status and /health show it meanwhile. Each envelope is handled
// in order and acknowledged once the channel has it (for a message: once Intake accepted it);
// what was not acknowledged when a connection dropped, Slack delivers again on the next one.
import { Clock, Deferred, Duration, Effect, Exit, Metric, Queue, Redacted } from "effect"
import { libraryLogger, type LogSink } from "./libraryLogger.ts"
import { slackConnected, slackReconnects } from "./metrics.ts"
import type { SlackStats } from "./stats.ts"
import { supervised } from "../../core/supervised.ts"

export interface SocketModeOptions {
  readonly appToken: Redacted.Redacted<string>
  readonly apiRoot: string
  readonly stats: SlackStats
  /** Handle one envelope; it is acknowledged when this returns. Never fails. */
  readonly handle: (envelope: unknown) => Effect.Effect<void>
  readonly connectTimeout: Duration.Duration
  /** Envelopes received but not handled yet; beyond it they are not acknowledged (Slack sends them again). */
  readonly capacity?: number
  readonly log?: LogSink
  /** Told when a connection is up, and when it is lost (with the reason). */
  readonly up: Effect.Effect<void>
  readonly down: (reason: string) => Effect.Effect<void>
}

/** Exponential backoff from 1 s, at most 30 s. */
export const reconnectDelayMs = (failures: number) => failures <= 0 ? 0 : Math.min(30_000, 1000 * 2 ** (failures - 1))

interface Received {
  readonly envelope: unknown
  readonly ack: () => Promise<void>
}

/** The error Slack's client gave, in words (never a token: the library's errors do not carry one). */
const describe = (cause: unknown): string => {
  const e = cause as { data?: { error?: unknown }; message?: unknown } | undefined
  if (typeof e?.data?.error === "string") return e.data.error
  if (typeof e?.message === "string" && e.message !== "") return e.message
  return "the connection closed before Slack said hello"
}

export const runSocketMode = (options: SocketModeOptions) =>
  Effect.gen(function*() {
    const { stats } = options
    const { SocketModeClient } = yield* Effect.promise(() => import("@slack/socket-mode"))
    const incoming = yield* Queue.bounded<Received>(options.capacity ?? 1000)

    // Handled one at a time, in the order Slack sent them; the ack goes back on the connection the
    // envelope came in on (if that one is gone, Slack re-sends it on the next).
    yield* Queue.take(incoming).pipe(
      Effect.flatMap((r) =>
        options.handle(r.envelope).pipe(
          Effect.andThen(Effect.tryPromise(r.ack)),
          Effect.catch((e) => Effect.logDebug(`a Slack envelope was not acknowledged: ${String(e)}`))
        )
      ),
      Effect.forever,
      supervised({ name: "slack envelopes" }),
      Effect.forkScoped
    )

    const connectOnce = Effect.gen(function*() {
      const client = new SocketModeClient({
        appToken: Redacted.value(options.appToken),
        autoReconnectEnabled: false,
        logger: libraryLogger("slack-socket-mode", options.log) as never,
        clientOptions: { slackApiUrl: `${options.apiRoot.replace(/\/+$/, "")}/`, retryConfig: { retries: 0 }, timeout: 15_000 }
      })
      const closed = yield* Deferred.make<string>()
      client.on("slack_event", (e: { envelope_id?: unknown; type?: unknown; body?: unknown; retry_num?: unknown; ack: () => Promise<void> }) => {
        const envelope = { envelope_id: e.envelope_id, type: e.type, payload: e.body, retry_attempt: e.retry_num ?? 0 }
        if (!Queue.offerUnsafe(incoming, { envelope, ack: () => e.ack() })) stats.lastError = "too many envelopes waiting; not acknowledged"
      })
      // Slack's `disconnect` message ("refresh_requested", "warning") closes the socket the same way.
      client.on("disconnected", () => Deferred.doneUnsafe(closed, Exit.succeed("closed")))
      yield* Effect.addFinalizer(() =>
        Effect.tryPromise(() => client.disconnect()).pipe(Effect.timeout("2 seconds"), Effect.ignore)
      )
      yield* Effect.tryPromise({ try: () => client.start(), catch: describe }).pipe(
        Effect.timeoutOrElse({ duration: options.connectTimeout, orElse: () => Effect.fail("no hello from Slack in time") })
      )
      stats.state = "connected"
      stats.connections++
      stats.consecutiveFailures = 0
      stats.lastError = null
      stats.connectedAt = new Date(yield* Clock.currentTimeMillis).toISOString()
      yield* Metric.update(slackConnected, 1)
      yield* options.up
      yield* Effect.logInfo("slack socket mode connected").pipe(Effect.annotateLogs({ connections: stats.connections }))
      yield* Deferred.await(closed)
    }).pipe(Effect.scoped)

    const lost = (reason: string) =>
      Effect.gen(function*() {
        const wasConnected = stats.state === "connected"
        stats.consecutiveFailures = wasConnected ? 0 : stats.consecutiveFailures + 1
        stats.state = stats.consecutiveFailures === 0 ? "reconnecting" : "failing"
        stats.lastError = reason
        yield* Metric.update(slackConnected, 0)
        yield* options.down(reason)
        yield* Metric.update(slackReconnects, 1)
        const delay = reconnectDelayMs(stats.consecutiveFailures)
        yield* (wasConnected ? Effect.logInfo : Effect.logWarning)(`slack socket mode ${wasConnected ? "disconnected" : "could not connect"} (${reason}); reconnecting in ${delay} ms`)
        if (delay > 0) yield* Effect.sleep(delay)
        stats.state = "reconnecting"
      })

    return yield* connectOnce.pipe(
      Effect.matchEffect({ onFailure: lost, onSuccess: () => lost("connection closed") }),
      Effect.forever
    )
  })
