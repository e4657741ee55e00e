// The contract's core routes: health, status, metrics, messages, inbox.
import { randomUUID } from "node:crypto"
import { Clock, Duration, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { inboundRejected, queueOldestWait, turnRunning } from "../../domain/metrics.ts"
import { scopedRequestId } from "../../domain/source.ts"
import { Metric } from "effect"
import { CommandQueue } from "../../core/CommandQueue.ts"
import { Dispatcher } from "../../core/Dispatcher.ts"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { HttpLimits } from "./HttpLimits.ts"
import { Inbox } from "./Inbox.ts"
import { Intake } from "../../core/Intake.ts"
import { RequestLog } from "../../core/RequestLog.ts"
import { Store } from "../../store/Store.ts"
import { Status } from "../../core/Status.ts"
import { allowSource, ApiError, badRequest, defaultSource, jsonBody, notFound, numberParam, query, route } from "./api.ts"
import { ChannelRoutesFallback } from "./ChannelRoutes.ts"

/** Sources HTTP clients may speak for: their own `http:*` and `cli:*` names, never another channel's. */
const ClientSource = Schema.String.check(
  Schema.isPattern(/^(http|cli):[A-Za-z0-9._@-]{1,64}$/, {
    expected: "http:<name> or cli:<name> (letters, digits, . _ @ -, at most 64)"
  })
)

const MessageBody = Schema.Struct({
  text: Schema.String.check(Schema.isPattern(/\S/, { expected: "a text that is not blank" })),
  source: Schema.optional(ClientSource),
  id: Schema.optional(Schema.String.check(Schema.isPattern(/^[A-Za-z0-9._:@-]{1,128}$/, {
    expected: "an idempotency key of 1-128 letters, digits or . _ : @ -"
  }))),
  priority: Schema.optional(Schema.Literals(["human", "event"]))
})

const waitMillis = Effect.gen(function*() {
  const config = yield* GatewayConfig
  const params = yield* query
  const seconds = yield* numberParam(params, "wait", 0, Duration.toSeconds(config.http.maxWait))
  return Math.round(seconds * 1000)
})

/** A request that waits holds one of the SWITCHBOARD_HTTP_MAX_WAITERS slots while it does. */
const longPoll = <A, E, R>(waitMs: number, effect: Effect.Effect<A, E, R>) =>
  waitMs <= 0 ? effect : HttpLimits.use((limits) => limits.waiting(effect))

const rejected = (e: ApiError) =>
  Metric.update(Metric.withAttributes(inboundRejected, { channel: "http", code: e.code }), 1).pipe(
    Effect.andThen(Effect.fail(e))
  )

const Health = route("GET", "/health", Effect.gen(function*() {
  const health = yield* (yield* Status).health
  return { status: health.status === "fail" ? 503 : 200, body: health }
}), { public: true })

const StatusRoute = route("GET", "/status", Effect.gen(function*() {
  return { body: yield* (yield* Status).snapshot }
}))

const Metrics = route("GET", "/metrics", Effect.gen(function*() {
  const now = yield* Clock.currentTimeMillis
  const queue = yield* (yield* CommandQueue).stats
  const active = yield* (yield* Dispatcher).active
  yield* (yield* Store).stats // refreshes the row gauges
  yield* Metric.update(queueOldestWait, queue.depth === 0 ? 0 : queue.oldestWaitMs / 1000)
  yield* Metric.update(turnRunning, active === undefined ? 0 : (now - active.startedAt) / 1000)
  const text = yield* PrometheusMetrics.format()
  return HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4" })
}), { admin: true })

const PostMessage = route("POST", "/v1/messages", Effect.gen(function*() {
  const body = yield* jsonBody(MessageBody).pipe(Effect.catchTag("ApiError", rejected))
  const intake = yield* Intake
  const source = body.source ?? (yield* defaultSource)
  // A token limited to its sources cannot post as, or /stop, another client.
  yield* allowSource(source)
  const result = yield* intake.submit({
    id: body.id === undefined ? randomUUID() : scopedRequestId(source, body.id),
    source,
    text: body.text,
    priority: body.priority
  }).pipe(
    Effect.catchTags({
      QueueFull: (e) => Effect.fail(new ApiError({ status: 503, code: "queue_full", message: e.message })),
      HandoffFailed: (e) => Effect.fail(new ApiError({ status: 503, code: "not_stored", message: e.message })),
      ShuttingDown: (e) => Effect.fail(new ApiError({ status: 503, code: "shutting_down", message: e.message })),
      Unbound: (e) => Effect.fail(new ApiError({ status: 403, code: "unbound_source", message: e.message }))
    })
  )
  switch (result._tag) {
    case "Queued":
      return { status: 202, body: { id: result.id, status: "queued" } }
    case "Duplicate":
      return { status: 202, body: { id: result.id, duplicate: true } }
    case "Answered":
      return { status: 202, body: { id: result.id, status: "done", reply: result.reply } }
  }
}))

const GetMessage = route("GET", "/v1/messages/:id", Effect.gen(function*() {
  const { id } = yield* HttpRouter.params
  const waitMs = yield* waitMillis
  const log = yield* RequestLog
  const record = yield* longPoll(waitMs, Effect.gen(function*() {
    const known = yield* log.get(id ?? "")
    // Only HTTP and CLI requests are served here: other channels' ids (telegram:<update_id>) are
    // sequential, and their replies are that chat's, not an API client's.
    if (known === undefined || !/^(http|cli):/.test(known.source)) return yield* notFound(`no message with id "${id}"`)
    yield* allowSource(known.source)
    return yield* log.await(known.id, waitMs)
  }))
  if (record === undefined) return yield* notFound(`no message with id "${id}"`)
  return {
    body: {
      id: record.id,
      source: record.source,
      status: record.status,
      ...(record.reply !== undefined ? { reply: record.reply } : {}),
      ...(record.error !== undefined ? { error: record.error } : {})
    }
  }
}))

const GetInbox = route("GET", "/v1/inbox/:source", Effect.gen(function*() {
  const { source } = yield* HttpRouter.params
  const decoded = Schema.decodeUnknownOption(ClientSource)(source)
  if (decoded._tag === "None") {
    return yield* badRequest("invalid_source", "the inbox source must be http:<name> or cli:<name>")
  }
  yield* allowSource(decoded.value)
  const params = yield* query
  const after = yield* numberParam(params, "after", 0)
  const waitMs = yield* waitMillis
  const epoch = params.get("epoch") ?? undefined
  if (epoch !== undefined && !/^[A-Za-z0-9-]{1,36}$/.test(epoch)) {
    return yield* badRequest("invalid_query", "epoch must be the value of a previous page's epoch")
  }
  return { body: yield* longPoll(waitMs, (yield* Inbox).read(decoded.value, Math.floor(after), waitMs, epoch)) }
}))

/** Anything else: a channel's own route (a webhook), or the contract's error shape, not an empty 404. */
export const CoreRoutes = Layer.mergeAll(Health, StatusRoute, Metrics, PostMessage, GetMessage, GetInbox, ChannelRoutesFallback)
