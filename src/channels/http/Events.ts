// The gateway's live state as a stream of events, for GET /v1/events (the dashboard, scripts).
// A client first gets a `snapshot` (everything the dashboard shows), then changes: immediate ones
// (a turn started or finished, from TurnEvents; a delivery) as they happen, and every section of the snapshot again when it
// changes (sampled every SAMPLE_EVERY while at least one client listens; nothing runs without
// clients but the one-hour queue history). Publishing never waits for a client: each client has a
// bounded buffer, and a client that lets it fill up is dropped with a `dropped` event.
import { Cause, Clock, Context, Effect, Layer, Metric, Option, Queue, Schedule, Schema, Stream } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { CommandQueue } from "../../core/CommandQueue.ts"
import { DeliveryLog } from "../../core/DeliveryLog.ts"
import { Questions } from "../../core/Questions.ts"
import { Status } from "../../core/Status.ts"
import { onTurnEvents } from "../../core/TurnEvents.ts"
import { Checks } from "../../checks/Checks.ts"
import { ExecJobs } from "../../agent/exec/ExecJobs.ts"
import { readSections, SECTIONS, type Sections } from "./dashboardState.ts"
import { eventClients, eventClientsDropped } from "./metrics.ts"

/** How often the sections are compared while clients listen. */
export const SAMPLE_EVERY = "500 millis"
/** One point of the queue chart every HISTORY_EVERY, HISTORY_POINTS of them (one hour). */
export const HISTORY_EVERY = "15 seconds"
export const HISTORY_POINTS = 240

export interface DashEvent {
  readonly type: string
  readonly data: unknown
}

/** An event as it goes out: serialized once, however many clients get it. */
export interface SentEvent extends DashEvent {
  /** `event: <type>\ndata: <json>\n\n` */
  readonly frame: string
}

export const sseFrame = (e: DashEvent) => `event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`
const sent = (e: DashEvent): SentEvent => ({ ...e, frame: sseFrame(e) })

export interface QueuePoint {
  readonly at: string
  readonly depth: number
  readonly oldestWaitMs: number
  readonly byPriority: Readonly<Record<string, number>>
}

export class TooManyClients extends Schema.TaggedError<TooManyClients>()("TooManyClients", { max: Schema.Number }) {
  override get message() {
    return `${this.max} event clients are connected already; try again later`
  }
}

interface Subscriber {
  readonly queue: Queue.Queue<SentEvent, Cause.Done>
  /** Events published while the client's snapshot was being read: sent right after it. */
  early: Array<SentEvent> | undefined
}

export interface EventsStats {
  readonly clients: number
  readonly maxClients: number
  readonly buffer: number
  readonly dropped: number
}

export class Events extends Context.Service<Events, {
  /** Everything the dashboard shows, now. */
  readonly snapshot: Effect.Effect<Record<string, unknown>>
  /** A snapshot, then changes; ends after `dropped` when the client falls a whole buffer behind. */
  readonly subscribe: Stream.Stream<SentEvent, TooManyClients>
  /** Send an event to every client (never waits). */
  readonly publish: (event: DashEvent) => Effect.Effect<void>
  readonly stats: Effect.Effect<EventsStats>
}>()("switchboard/Events") {
  static readonly layer = Layer.effect(
    Events,
    Effect.gen(function*() {
      const config = yield* GatewayConfig
      const status = yield* Status
      const queue = yield* CommandQueue
      const deliveryLog = yield* DeliveryLog
      const checks = yield* Effect.serviceOption(Checks)
      const jobs = yield* Effect.serviceOption(ExecJobs)
      const questions = yield* Effect.serviceOption(Questions)
      const { maxEventClients, eventBuffer, jaegerUrl, publicPath } = config.dashboard
      const subscribers = new Set<Subscriber>()
      const history: Array<QueuePoint> = []
      const counters = { dropped: 0 }
      const last = new Map<string, string>()

      const sections = readSections({
        status: status.snapshot,
        health: status.health,
        checks: Option.map(checks, (c) => c.list),
        jobs: Option.map(jobs, (j) => j.list),
        questions: Option.map(questions, (q) => q.pending),
        deliveriesByChannel: deliveryLog.byChannel
      })

      const offer = (s: Subscriber, event: SentEvent) => {
        if (s.early !== undefined) {
          s.early.push(event)
          return
        }
        if (Queue.sizeUnsafe(s.queue) >= eventBuffer) {
          // A whole buffer behind: this client cannot keep up. It gets the notice and its stream ends.
          subscribers.delete(s)
          counters.dropped++
          Queue.offerUnsafe(s.queue, sent({ type: "dropped", data: { reason: `more than ${eventBuffer} events waited for this client` } }))
          Queue.endUnsafe(s.queue)
          return
        }
        Queue.offerUnsafe(s.queue, event)
      }

      const publish = (event: DashEvent) =>
        Effect.suspend(() => {
          if (subscribers.size === 0) return Effect.void
          const before = counters.dropped
          const out = sent(event)
          for (const s of subscribers) offer(s, out)
          const dropped = counters.dropped - before
          return dropped === 0 ? Effect.void : Effect.all([
            Metric.update(eventClientsDropped, dropped),
            Metric.update(eventClients, subscribers.size),
            Effect.logWarning(`events: dropped ${dropped} client(s) that fell ${eventBuffer} events behind`)
          ], { discard: true })
        })

      const snapshot = Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const current = yield* sections
        return {
          at: new Date(now).toISOString(),
          config: {
            jaegerUrl: Option.getOrNull(jaegerUrl),
            publicPath,
            serviceName: config.otel.serviceName,
            approval: config.exec.allow.length > 0 && config.exec.approval === "ask"
          },
          ...current,
          deliveries: yield* deliveryLog.recent,
          history: [...history]
        }
      })

      const subscribe = Stream.unwrap(Effect.gen(function*() {
        if (subscribers.size >= maxEventClients) return yield* new TooManyClients({ max: maxEventClients })
        const s: Subscriber = { queue: yield* Queue.make<SentEvent, Cause.Done>({ capacity: eventBuffer + 1 }), early: [] }
        subscribers.add(s)
        yield* Metric.update(eventClients, subscribers.size)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => subscribers.delete(s)).pipe(
            Effect.andThen(Effect.suspend(() => Metric.update(eventClients, subscribers.size))),
            Effect.andThen(Queue.shutdown(s.queue))
          ))
        const first = yield* snapshot
        const early = s.early ?? []
        s.early = undefined
        Queue.offerUnsafe(s.queue, sent({ type: "snapshot", data: first }))
        for (const e of early) offer(s, e)
        return Stream.fromQueue(s.queue)
      }))

      // Sections that changed since the last look, each sent whole.
      const sample = Effect.gen(function*() {
        if (subscribers.size === 0) return
        const current: Sections = yield* sections
        for (const name of SECTIONS) {
          const json = JSON.stringify(current[name])
          if (last.get(name) === json) continue
          last.set(name, json)
          yield* publish({ type: name, data: current[name] })
        }
      })

      const recordHistory = Effect.gen(function*() {
        const stats = yield* queue.stats
        const point: QueuePoint = {
          at: new Date(yield* Clock.currentTimeMillis).toISOString(),
          depth: stats.depth,
          oldestWaitMs: stats.oldestWaitMs,
          byPriority: stats.byPriority
        }
        history.push(point)
        if (history.length > HISTORY_POINTS) history.splice(0, history.length - HISTORY_POINTS)
        yield* publish({ type: "queue.sample", data: point })
      })

      const forever = (what: string, effect: Effect.Effect<void>, every: Parameters<typeof Schedule.spaced>[0]) =>
        effect.pipe(
          Effect.catchCause((cause) => Effect.logError(`events: ${what} failed`, cause)),
          Effect.repeat(Schedule.spaced(every)),
          Effect.forkScoped
        )
      yield* forever("sampling the state", sample, SAMPLE_EVERY)
      yield* forever("recording the queue history", recordHistory, HISTORY_EVERY)

      yield* onTurnEvents((e) =>
        publish(e._tag === "TurnStarted"
          ? { type: "turn.started", data: { id: e.requestId, source: e.source, priority: e.priority, startedAt: new Date(e.at).toISOString() } }
          : {
            type: "turn.finished",
            data: { id: e.requestId, source: e.source, priority: e.priority, outcome: e.outcome, at: new Date(e.at).toISOString(), durationMs: e.durationMs }
          })
      )
      yield* deliveryLog.listen((record) => publish({ type: "delivery", data: record }))
      yield* status.contribute("events", Effect.sync(() => ({ clients: subscribers.size, maxClients: maxEventClients, buffer: eventBuffer, dropped: counters.dropped })))

      return Events.of({
        snapshot,
        subscribe,
        publish,
        stats: Effect.sync(() => ({ clients: subscribers.size, maxClients: maxEventClients, buffer: eventBuffer, dropped: counters.dropped }))
      })
    })
  )
}
