// Heartbeat routes: POST /v1/system-events (enqueue an event for a session key and wake for it) and
// POST /v1/admin/reload (re-read the heartbeat settings and replace the runner in place).
import { Clock, Effect, Layer, Schema } from "effect"
import { Agents } from "../../config/Agents.ts"
import { Unbound } from "../../domain/errors.ts"
import { Source } from "../../domain/model.ts"
import { channelOf } from "../../domain/source.ts"
import { describeSettings } from "../../heartbeat/settings.ts"
import { HeartbeatRunner } from "../../heartbeat/HeartbeatRunner.ts"
import { HeartbeatWake } from "../../heartbeat/HeartbeatWake.ts"
import { Router } from "../../core/Router.ts"
import { Checks } from "../../checks/Checks.ts"
import { Severity } from "../../checks/checkFile.ts"
import { Triage } from "../../checks/Triage.ts"
import { systemEventItem } from "../../checks/triageRules.ts"
import { SystemEvents } from "../../heartbeat/SystemEvents.ts"
import { ApiTokens } from "./ApiTokens.ts"
import { allowSource, ApiError, jsonBody, route } from "./api.ts"

/** A chat's key, as a channel makes them: short, and nothing path-like (`../`, `/`, `\`). */
const SessionKey = Source.check(
  Schema.isMaxLength(256, { expected: "a session key of at most 256 characters" }),
  Schema.isPattern(/^(?!.*\.\.)[^/\\]*$/, { expected: "a session key without .., / or \\" })
)

const SystemEventBody = Schema.Struct({
  sessionKey: SessionKey,
  text: Schema.String.check(
    Schema.isNonEmpty({ expected: "a non-empty text" }),
    Schema.isMaxLength(16 * 1024, { expected: "a text of at most 16384 characters" })
  ),
  contextKey: Schema.optional(Schema.String.check(Schema.isPattern(/^\S{1,128}$/, {
    expected: "a context key of 1-128 non-space characters"
  }))),
  reason: Schema.optional(Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9-]{0,31}$/, {
    expected: "a reason such as exec-event, manual or hook"
  }))),
  wake: Schema.optional(Schema.Boolean),
  // With a severity the event is triaged (immediate / notify / digest / suppress) like a check.
  severity: Schema.optional(Severity)
})

const PostSystemEvent = route("POST", "/v1/system-events", Effect.gen(function*() {
  const body = yield* jsonBody(SystemEventBody)
  if (body.text.trim().length === 0) {
    return yield* new ApiError({ status: 400, code: "invalid_body", message: "text must not be blank" })
  }
  yield* allowSource(body.sessionKey)
  // An event for a chat no channel can reach would be relayed into the void (and consumed).
  const channels = (yield* (yield* Router).stats).channels
  const channel = channelOf(body.sessionKey) ?? ""
  if (!channels.includes(channel)) {
    return yield* new ApiError({
      status: 400,
      code: "unknown_channel",
      message: `no running channel delivers to ${body.sessionKey} (running: ${channels.join(", ")})`
    })
  }
  // An event for a chat no agent serves would never be relayed.
  if ((yield* Agents).resolve(body.sessionKey) === undefined) {
    return yield* new ApiError({ status: 403, code: "unbound_source", message: new Unbound({ source: body.sessionKey }).message })
  }
  const triage = yield* Effect.serviceOption(Triage)
  if (body.severity !== undefined && triage._tag === "Some") {
    const item = systemEventItem({ ...body, severity: body.severity, via: "http:system-events", at: yield* Clock.currentTimeMillis })
    return { status: 202, body: { sessionKey: body.sessionKey, triaged: yield* triage.value.submit(item) } }
  }
  const events = yield* SystemEvents
  // Text from an API client is data from outside: the model sees it labelled untrusted.
  const event = yield* events.enqueue(body.sessionKey, body.text, { contextKey: body.contextKey, trusted: false }).pipe(
    Effect.catchTag("SystemEventsFull", (e) =>
      Effect.fail(new ApiError({ status: 503, code: "system_events_full", message: e.message })))
  )
  const wake = body.wake ?? true
  if (wake) yield* (yield* HeartbeatWake).request({ reason: body.reason ?? "exec-event", sessionKey: body.sessionKey })
  const pending = (yield* events.peek(body.sessionKey)).length
  return {
    status: 202,
    body: {
      sessionKey: body.sessionKey,
      ...(event !== undefined ? { id: event.id } : { skipped: "repeats the previous pending event" }),
      pending,
      woke: wake
    }
  }
}).pipe(Effect.withSpan("http.system_event")))

const PostReload = route("POST", "/v1/admin/reload", Effect.gen(function*() {
  const runner = yield* HeartbeatRunner
  const settings = yield* runner.reload.pipe(
    Effect.mapError((e) => new ApiError({ status: 400, code: "invalid_config", message: e.message }))
  )
  const stats = yield* runner.stats
  // The checks file too, when checks run: a bad file keeps the running checks (400 says why).
  const checks = yield* Effect.serviceOption(Checks)
  const summary = checks._tag === "Some"
    ? yield* checks.value.reload.pipe(
      Effect.mapError((e) => new ApiError({ status: 400, code: "invalid_checks", message: `${e.message}; the running checks stay` }))
    )
    : undefined
  // And the API tokens file: a bad one keeps the tokens in force.
  const tokens = yield* (yield* ApiTokens).reload.pipe(
    Effect.mapError((e) => new ApiError({ status: 400, code: "invalid_tokens", message: `${e.message}; the tokens in force stay` }))
  )
  return {
    body: {
      reloaded: true,
      generation: stats.generation,
      heartbeat: describeSettings(settings),
      ...(summary ? { checks: summary } : {}),
      ...(tokens !== undefined ? { apiTokens: tokens } : {})
    }
  }
}), { admin: true })

export const HeartbeatRoutes = Layer.mergeAll(PostSystemEvent, PostReload)
