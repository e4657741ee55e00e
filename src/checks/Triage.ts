// Triage of everything that is not a person's message (ADR-0103): the rules decide between
// `immediate` (a request at `event` priority: the agent decides what to say), `notify` (straight
// to the chat, no model), `digest` and `suppress`. Quiet hours send all but critical to the
// digest; the storm limit caps interruptions per chat. An immediate alert whose turn fails is
// still told to its chat, as a plain notification: the model may be what is down.
import { randomUUID } from "node:crypto"
import { Clock, Context, Duration, Effect, Layer, Metric } from "effect"
import { GatewayConfig } from "../config/GatewayConfig.ts"
import { Dispatcher } from "../core/Dispatcher.ts"
import { Intake } from "../core/Intake.ts"
import { Channels } from "../core/Channels.ts"
import { Router } from "../core/Router.ts"
import { channelOf } from "../domain/source.ts"
import { alertPrompt, notifyText } from "./alertText.ts"
import { type Action, ACTIONS, type Rule } from "./checkFile.ts"
import { styleFor } from "./channelStyle.ts"
import { Digest, quietHoursOf } from "./Digest.ts"
import type { DigestItem } from "./digestRender.ts"
import { triageTotal } from "./metrics.ts"
import { isQuiet } from "./quietHours.ts"
import { decide, stormAllows, type TriageItem } from "./triageRules.ts"

export interface TriageOptions {
  /** Straight to the digest, and why (a flapping check, a repeat within the cooldown). */
  readonly digestBecause?: DigestItem["why"] | undefined
  /** The action the failure this item ends was given: a recovery is reported the same way. */
  readonly follows?: Action | undefined
}

export interface TriageStats {
  readonly byAction: Readonly<Record<Action, number>>
  readonly stormed: number
  readonly quieted: number
  readonly fallbacks: number
}

/** Immediate alerts whose turn has not finished yet, at most (the queue's own cap is lower). */
const MAX_PENDING = 5000

export class Triage extends Context.Service<Triage, {
  /** Decide and act; returns the action taken. */
  readonly submit: (item: TriageItem, options?: TriageOptions) => Effect.Effect<Action>
  /** The checks file's rules (replaced on reload). */
  readonly setRules: (rules: ReadonlyArray<Rule>) => Effect.Effect<void>
  readonly stats: Effect.Effect<TriageStats>
}>()("switchboard/Triage") {
  static readonly layer = Layer.effect(
    Triage,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const intake = yield* Intake
      const router = yield* Router
      const channels = yield* Channels
      const digest = yield* Digest
      const dispatcher = yield* Dispatcher
      const settings = config.checks
      const quiet = quietHoursOf(settings)
      const windowMs = Duration.toMillis(settings.stormWindow)
      const state = { rules: [] as ReadonlyArray<Rule>, stormed: 0, quieted: 0, fallbacks: 0 }
      const byAction: Record<Action, number> = { immediate: 0, notify: 0, digest: 0, suppress: 0 }
      const sentPerTarget = new Map<string, ReadonlyArray<number>>()
      const pending = new Map<string, TriageItem>()
      for (const action of ACTIONS) yield* Metric.update(Metric.withAttributes(triageTotal, { action }), 0)

      const notify = (item: TriageItem) =>
        channels.traitsOf(channelOf(item.target) ?? "").pipe(
          Effect.flatMap((traits) =>
            router.deliver(item.target, { kind: "notify", text: notifyText(item, styleFor(traits).markdown) }, { explicit: true })
          ),
          Effect.catch((e) => Effect.logError(`alert for ${item.target} not delivered: ${e.message}`))
        )

      const toDigest = (item: TriageItem, why: DigestItem["why"]) =>
        digest.add({
          target: item.target,
          group: `${item.kind} ${item.name}`,
          severity: item.severity,
          at: item.at,
          text: item.untrusted !== undefined ? `${item.text}: ${item.untrusted}` : item.text,
          why
        })

      const immediate = (item: TriageItem) =>
        Effect.gen(function*() {
          const id = `alert-${randomUUID()}`
          const submitted = yield* intake.submit({ id, source: item.target, text: alertPrompt(item), priority: "event", followed: true }).pipe(
            Effect.result
          )
          if (submitted._tag === "Failure") {
            state.fallbacks++
            yield* Effect.logWarning(`alert not queued (${submitted.failure.message}); sent as a notification instead`)
            return yield* notify(item)
          }
          if (pending.size >= MAX_PENDING) pending.delete(pending.keys().next().value!)
          pending.set(id, item)
        })

      // The model may be what is down: a failed alert turn still reaches its chat, without it.
      yield* dispatcher.onTurnFinished((request, outcome) =>
        Effect.gen(function*() {
          const item = pending.get(request.id)
          if (item === undefined) return
          pending.delete(request.id)
          if (outcome._tag === "Failed" || outcome._tag === "TimedOut") {
            state.fallbacks++
            yield* Effect.logWarning(`alert turn ${outcome._tag}; sending the alert as a notification`).pipe(
              Effect.annotateLogs({ requestId: request.id, target: item.target })
            )
            yield* notify(item)
          }
        })
      )

      const submit = (item: TriageItem, options: TriageOptions = {}) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          let action: Action
          let why: DigestItem["why"] = options.digestBecause ?? "rule"
          let rule = "forced"
          if (options.digestBecause !== undefined) action = "digest"
          else if (options.follows !== undefined) action = options.follows
          else ({ action, rule } = decide(state.rules, item))
          const interrupts = action === "immediate" || action === "notify"
          if (interrupts && item.severity !== "critical" && isQuiet(quiet, now)) {
            action = "digest"
            why = "quiet"
            state.quieted++
          } else if (interrupts && options.follows === undefined) {
            const storm = stormAllows(sentPerTarget.get(item.target) ?? [], now, settings.stormLimit, windowMs)
            sentPerTarget.set(item.target, storm.sent)
            if (!storm.allowed) {
              action = "digest"
              why = "storm"
              state.stormed++
            }
          }
          byAction[action]++
          yield* Metric.update(Metric.withAttributes(triageTotal, { action }), 1)
          yield* Effect.annotateCurrentSpan({ "switchboard.triage.action": action, "switchboard.triage.rule": rule })
          yield* Effect.logInfo(`triaged: ${action}`).pipe(
            Effect.annotateLogs({ item: `${item.kind} ${item.name}`, event: item.event, target: item.target, rule, why })
          )
          switch (action) {
            case "immediate":
              yield* immediate(item)
              break
            case "notify":
              yield* notify(item)
              break
            case "digest":
              yield* toDigest(item, why)
              break
            case "suppress":
              break
          }
          return action
        }).pipe(Effect.withSpan("triage", { attributes: { "switchboard.source": item.source, "switchboard.target": item.target } }))

      return Triage.of({
        submit,
        setRules: (rules) => Effect.sync(() => void (state.rules = rules)),
        stats: Effect.sync(() => ({ byAction: { ...byAction }, stormed: state.stormed, quieted: state.quieted, fallbacks: state.fallbacks }))
      })
    })
  )
}
