// Signed webhooks (POST /v1/hooks/:name): the signature is checked over the raw body, a delivery
// id seen before is answered once (not triaged again), the payload becomes event text through the
// hook's template, labelled untrusted, from the source `webhook:<name>`, and is triaged like any
// event. A refused delivery is counted and logged without its body.
import { Clock, Context, Duration, Effect, Layer, Metric, Redacted, Schema } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Checks } from "./Checks.ts"
import { webhookDeliveries } from "./metrics.ts"
import { eventText, verifySignature } from "./signature.ts"
import { Triage } from "./Triage.ts"

export class WebhookRefused extends Schema.TaggedError<WebhookRefused>()("WebhookRefused", {
  status: Schema.Number,
  code: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export type WebhookOutcome =
  | { readonly _tag: "Accepted"; readonly action: string; readonly deliveryId: string | undefined }
  | { readonly _tag: "Duplicate"; readonly deliveryId: string }

/** Delivery ids remembered (per daemon), within SWITCHBOARD_DEDUPE_WINDOW. */
const MAX_DELIVERY_IDS = 10_000

export class Webhooks extends Context.Service<Webhooks, {
  readonly deliver: (
    name: string,
    headers: Readonly<Record<string, string | undefined>>,
    body: Uint8Array
  ) => Effect.Effect<WebhookOutcome, WebhookRefused>
}>()("switchboard/Webhooks") {
  static readonly layer = Layer.effect(
    Webhooks,
    Effect.gen(function*() {
      const checks = yield* Checks
      const triage = yield* Triage
      const windowMs = Duration.toMillis((yield* GatewayConfig).queue.dedupeWindow)
      const seen = new Map<string, number>() // `<hook> <delivery id>` → when, oldest first

      const count = (hook: string, outcome: string) => Metric.update(Metric.withAttributes(webhookDeliveries, { hook, outcome }), 1)
      const refuse = (hook: string, outcome: string, status: number, code: string, reason: string) =>
        Effect.gen(function*() {
          yield* count(hook, outcome)
          yield* Effect.logWarning(`webhook ${hook} refused: ${reason}`).pipe(Effect.annotateLogs({ hook, code }))
          return yield* new WebhookRefused({ status, code, reason })
        })

      const deliver = (name: string, headers: Readonly<Record<string, string | undefined>>, body: Uint8Array) =>
        Effect.gen(function*() {
          const hook = yield* checks.hook(name)
          if (hook === undefined) {
            return yield* new WebhookRefused({ status: 404, code: "not_found", reason: `no webhook named ${name}` })
          }
          const { spec } = hook
          const verdict = verifySignature(spec.signature, Redacted.value(hook.secret), body, headers[spec.header])
          if (verdict !== "ok") {
            return yield* refuse(
              name,
              verdict === "missing" ? "missing_signature" : "bad_signature",
              401,
              "bad_signature",
              verdict === "missing" ? `the ${spec.header} header is missing` : `the ${spec.header} signature does not match`
            )
          }
          const now = yield* Clock.currentTimeMillis
          const deliveryId = headers[spec.deliveryHeader]?.slice(0, 200)
          if (deliveryId !== undefined) {
            const key = `${name} ${deliveryId}`
            for (const [k, at] of seen) {
              if (at > now - windowMs && seen.size < MAX_DELIVERY_IDS) break
              seen.delete(k)
            }
            if (seen.has(key)) {
              yield* count(name, "duplicate")
              return { _tag: "Duplicate", deliveryId } as const
            }
            seen.set(key, now)
          }
          const payload = yield* Effect.try({
            try: () => JSON.parse(Buffer.from(body).toString("utf8")) as unknown,
            catch: () => undefined
          }).pipe(Effect.orElseSucceed(() => Buffer.from(body).toString("utf8").slice(0, 500)))
          const event = headers["x-github-event"]
          yield* count(name, "accepted")
          const action = yield* triage.submit({
            kind: "webhook",
            name,
            source: `webhook:${name}`,
            severity: spec.severity,
            event: "delivery",
            target: spec.target,
            text: `webhook ${name}${event !== undefined ? ` (${event.slice(0, 64)})` : ""}`,
            untrusted: eventText(payload, spec.template, spec.fields),
            at: now
          })
          return { _tag: "Accepted", action, deliveryId } as const
        }).pipe(Effect.withSpan("webhook", { attributes: { "switchboard.source": `webhook:${name}` } }))

      return Webhooks.of({ deliver })
    })
  )
}
