// Everything the Router delivers to `http:*` and `cli:*` targets, kept per source and long-polled
// by clients (GET /v1/inbox/:source). This is how HTTP and CLI users receive what they did not
// ask for: tool notifications, questions, relays of system events.
import { randomUUID } from "node:crypto"
import { Clock, Context, Deferred, Effect, Layer, Metric } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import { memoryDropped } from "../../domain/metrics.ts"
import type { Outbound } from "../../domain/model.ts"
import { byteSize, truncateStored } from "../../domain/truncate.ts"
import { SharedInbox, type SharedInboxMessage } from "../../core/SharedInbox.ts"

/** One message in an inbox (the same shape whether it is kept here or, in a cluster, in Postgres). */
export type InboxMessage = SharedInboxMessage

export interface InboxPage {
  readonly messages: ReadonlyArray<InboxMessage>
  /** Pass as `after` to get only newer messages. */
  readonly next: number
  /**
   * Which life of this inbox the seqs belong to (a restarted daemon, an inbox forgotten and made
   * again start at 1). Pass it back: when it changed, `after` is ignored and everything is returned.
   */
  readonly epoch?: string | undefined
}

interface Box {
  messages: Array<InboxMessage>
  /** Bytes of the messages' texts. */
  bytes: number
  nextSeq: number
  changed: Deferred.Deferred<void>
  /** Long-polls waiting on this box. */
  waiting: number
  readonly epoch: string
}

export class Inbox extends Context.Service<Inbox, {
  readonly append: (source: string, message: Outbound) => Effect.Effect<InboxMessage>
  /**
   * Messages with seq > after (all of them when `epoch` is not the box's); waits up to waitMs for
   * the first one when there are none.
   */
  readonly read: (source: string, after: number, waitMs: number, epoch?: string) => Effect.Effect<InboxPage>
}>()("switchboard/Inbox") {
  static readonly make = (options: {
    readonly keepPerSource: number
    readonly maxSources: number
    /** Bytes per inbox, of all inboxes, and of one stored message's text. */
    readonly bytesPerSource?: number
    readonly totalBytes?: number
    readonly maxTextBytes?: number
  }) =>
    Effect.gen(function*() {
      // Cluster mode: kept in Postgres, so a client reads on any daemon what any daemon delivered.
      const shared = yield* Effect.serviceOption(SharedInbox)
      if (shared._tag === "Some") return sharedInbox(shared.value, options.keepPerSource, options.maxTextBytes ?? Infinity)
      const boxes = new Map<string, Box>()
      const perSource = options.bytesPerSource ?? Infinity
      const totalBytes = options.totalBytes ?? Infinity
      const maxText = options.maxTextBytes ?? Infinity
      const held = { bytes: 0 }
      const sizeOf = (m: InboxMessage) => byteSize(m.text)

      const boxOf = (source: string) =>
        Effect.suspend(() => {
          const existing = boxes.get(source)
          if (existing) return Effect.succeed(existing)
          return Effect.map(Deferred.make<void>(), (changed) => {
            const box: Box = { messages: [], bytes: 0, nextSeq: 1, changed, waiting: 0, epoch: randomUUID().slice(0, 8) }
            boxes.set(source, box)
            return box
          })
        })

      const append = (source: string, message: Outbound) =>
        Effect.gen(function*() {
          const box = yield* boxOf(source)
          const now = yield* Clock.currentTimeMillis
          const entry: InboxMessage = {
            seq: box.nextSeq++,
            kind: message.kind,
            requestId: message.requestId,
            text: truncateStored(message.text, maxText),
            at: new Date(now).toISOString(),
            question: message.question
          }
          box.messages.push(entry)
          box.bytes += sizeOf(entry)
          held.bytes += sizeOf(entry)
          // Oldest first, by count and by bytes; the newest message always stays.
          let dropped = 0
          while (box.messages.length > 1 && (box.messages.length > options.keepPerSource || box.bytes > perSource)) {
            const old = box.messages.shift()!
            box.bytes -= sizeOf(old)
            held.bytes -= sizeOf(old)
            dropped++
          }
          // Most recently used last; beyond maxSources (or the bytes of all inboxes) the longest-quiet
          // inbox is forgotten, so clients inventing new source names cannot grow memory without bound.
          boxes.delete(source)
          boxes.set(source, box)
          for (const [name, quiet] of boxes) {
            if ((boxes.size <= options.maxSources && held.bytes <= totalBytes) || quiet === box) break
            boxes.delete(name)
            held.bytes -= quiet.bytes
            dropped += quiet.messages.length
          }
          if (dropped > 0) yield* Metric.update(Metric.withAttributes(memoryDropped, { store: "inbox" }), dropped)
          const woken = box.changed
          box.changed = yield* Deferred.make<void>()
          yield* Deferred.succeed(woken, undefined)
          return entry
        })

      const page = (box: Box, requested: number, epoch: string | undefined): InboxPage => {
        const after = epoch !== undefined && epoch !== box.epoch ? 0 : requested
        const messages = box.messages.filter((m) => m.seq > after)
        // Never past the last message: a client that asks "after infinity" learns where the box is.
        return { messages, next: messages.at(-1)?.seq ?? Math.min(Math.max(after, 0), box.nextSeq - 1), epoch: box.epoch }
      }

      const EMPTY: InboxPage = { messages: [], next: 0 }

      // Reading never keeps a box: polling names that nobody writes to must neither grow memory
      // nor push real inboxes (with unread replies) out. A long-poll holds a box only while it waits.
      const read = (source: string, after: number, waitMs: number, epoch?: string) =>
        Effect.gen(function*() {
          const existing = boxes.get(source)
          if (existing === undefined && waitMs <= 0) return EMPTY
          const box = existing ?? (yield* boxOf(source))
          const first = page(box, after, epoch)
          if (first.messages.length > 0 || waitMs <= 0) return first
          box.waiting++
          yield* Deferred.await(box.changed).pipe(
            Effect.timeoutOption(waitMs),
            Effect.ensuring(Effect.sync(() => {
              box.waiting--
              if (box.waiting === 0 && box.nextSeq === 1 && boxes.get(source) === box) boxes.delete(source)
            }))
          )
          return page(box, after, epoch)
        })

      return Inbox.of({ append, read })
    })

  /** Long-polls by reading the shared store again every 200 ms (bounded by the route's wait). */
  static readonly pollEveryMs = 200

  /** The inbox; the `http` and `cli` channels register it as their sender (inboxChannel.ts). */
  static readonly layer = Layer.effect(
    Inbox,
    GatewayConfig.use((c) =>
      Inbox.make({
        keepPerSource: 1000,
        maxSources: 10_000,
        bytesPerSource: c.memory.inboxBytes,
        totalBytes: c.memory.inboxTotalBytes,
        maxTextBytes: c.memory.storedReplyBytes
      })
    )
  )
}

const sharedInbox = (shared: SharedInbox["Service"], keep: number, maxText: number) =>
  Inbox.of({
    append: (source, message) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        shared.append(source, {
          kind: message.kind,
          requestId: message.requestId,
          text: truncateStored(message.text, maxText),
          at: new Date(now).toISOString(),
          question: message.question
        }, message.deliveryKey)),
    read: (source, requested, waitMs, epoch) =>
      Effect.gen(function*() {
        const after = epoch !== undefined && epoch !== shared.epoch ? 0 : Math.max(requested, 0)
        const deadline = (yield* Clock.currentTimeMillis) + waitMs
        while (true) {
          const messages = yield* shared.after(source, after, keep)
          const left = deadline - (yield* Clock.currentTimeMillis)
          if (messages.length > 0 || left <= 0) {
            return { messages, next: messages.at(-1)?.seq ?? after, epoch: shared.epoch }
          }
          yield* Effect.sleep(Math.min(left, Inbox.pollEveryMs))
        }
      })
  })
