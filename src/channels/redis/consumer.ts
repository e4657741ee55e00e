// One read session on switchboard:inbound, on a reader connection of its own: make sure the group
// exists (MKSTREAM), take this consumer's own pending entries first (`0`: read before a crash or a
// lost connection, never acknowledged), then new ones (`>`, BLOCK). Between reads it claims entries
// a dead consumer left pending (XAUTOCLAIM), trims what every group has acknowledged, and refreshes
// lag and pending. Entries are handled one at a time, in order; each is acknowledged only after its
// handler accepted it, or dead-lettered (acknowledged + copied to switchboard:dead) so that it never
// blocks the entries behind it. Any Redis error ends the session; the supervisor starts the next.
// Housekeeping between reads (lag, pending, trimming, idle consumers) is in maintenance.ts.
import { Clock, Effect, Metric } from "effect"
import type { Connection } from "./connection.ts"
import { RedisError } from "./connection.ts"
import { type DeadCode, ENTRY_TYPES, fieldsOf } from "./entries.ts"
import { forgetIdleConsumers, maintain, pairs } from "./maintenance.ts"
import { busClaimed, busDeadLetters, busEntries } from "./metrics.ts"
import { DEAD, GROUP, INBOUND } from "./names.ts"
import { withScripts } from "./scripts.ts"
import type { BusStats } from "./stats.ts"

export interface RawEntry {
  readonly id: string
  /** Null when the entry was deleted from the stream while it was pending. */
  readonly fields: ReadonlyArray<string> | null
  /** Times Redis delivered it (XPENDING); 1 for a new entry. */
  readonly deliveries: number
}

/** What became of an entry: acknowledged, dead-lettered, or left pending (to be read again). */
export type Verdict =
  | { readonly _tag: "Ack"; readonly type: string; readonly outcome: "accepted" | "duplicate" | "dropped" }
  | { readonly _tag: "Dead"; readonly type: string; readonly code: DeadCode; readonly reason: string }
  /** The gateway cannot take it now (queue full): the same entry is offered again after a pause. */
  | { readonly _tag: "Wait"; readonly why: string }
  /** The daemon is stopping: the entry stays pending for the next start. */
  | { readonly _tag: "Stop" }
  /** Something unexpected failed: it stays pending, is claimed again after the claim idle time, and
   * is dead-lettered once it was delivered more than SWITCHBOARD_REDIS_MAX_DELIVERIES times. */
  | { readonly _tag: "Leave"; readonly type: string; readonly why: string }

export interface SessionOptions {
  readonly consumer: string
  readonly blockMs: number
  readonly stallMs: number
  readonly claimIdleMs: number
  readonly maxDeliveries: number
  readonly deadMaxLen: number
  readonly stats: BusStats
  readonly handle: (entry: RawEntry) => Effect.Effect<Verdict>
  /** Called once the group is there and the session is about to read. */
  readonly onUp: Effect.Effect<void>
}

const BATCH = 100
/** Lag, pending and trimming at most this often while entries flow. */
const MAINTAIN_EVERY_MS = 1000

type StreamReply = Array<[string, Array<[string, Array<string> | null]>]> | null

const entriesOf = (reply: StreamReply): Array<{ id: string; fields: Array<string> | null }> =>
  (reply ?? []).flatMap(([, entries]) => entries.map(([id, fields]) => ({ id, fields })))

/** The original fields as JSON, for the dead-letter entry (a repeated field keeps all its values). */
const entryJson = (fields: ReadonlyArray<string>) => JSON.stringify(fieldsOf(fields))

export const readSession = (conn: Connection, options: SessionOptions): Effect.Effect<"stopped", RedisError> => {
  const { consumer, stats } = options
  const client = withScripts(conn.client)

  const ensureGroup = conn.run("xgroup create", (c) =>
    // From 0, not $: entries published before the group existed (a fresh Redis) are read too.
    c.xgroup("CREATE", INBOUND, GROUP, "0", "MKSTREAM").catch((e: Error) => {
      if (e.message.startsWith("BUSYGROUP")) return "exists"
      throw e
    }))

  const ack = (id: string) => conn.run("xack", (c) => c.xack(INBOUND, GROUP, id))

  // An accepted entry's XACK is sent at once but not waited for one by one: the connection keeps
  // commands in order, and the batch waits for all of its acknowledgements before it reads on.
  // (Each promise resolves to its error, if any, so none is left unhandled when a batch is cut short.)
  const inFlightAcks: Array<Promise<unknown>> = []
  const ackSoon = (id: string) =>
    Effect.sync(() => void inFlightAcks.push(conn.client.xack(INBOUND, GROUP, id).then(() => undefined, (e: unknown) => e)))
  const settleAcks = Effect.suspend(() =>
    inFlightAcks.length === 0 ? Effect.void : conn.run("xack", async () => {
      const failed = (await Promise.all(inFlightAcks.splice(0))).find((e) => e !== undefined)
      if (failed !== undefined) throw failed
    })
  )

  const deadLetter = (entry: RawEntry, type: string, code: DeadCode, reason: string) =>
    conn.run("dead-letter", () =>
      client.deadLetter(INBOUND, DEAD, GROUP, entry.id, options.deadMaxLen, reason, entryJson(entry.fields ?? []), code)).pipe(
        Effect.tap((moved) =>
          moved === 1
            ? Effect.gen(function*() {
              stats.deadLettered++
              yield* Metric.update(Metric.withAttributes(busDeadLetters, { code }), 1)
              yield* Metric.update(Metric.withAttributes(busEntries, { type, outcome: "dead" }), 1)
              yield* Effect.logWarning("redis bus: entry dead-lettered to switchboard:dead").pipe(
                Effect.annotateLogs({ streamId: entry.id, type, code, reason })
              )
            })
            : Effect.void
        )
      )

  /** Pause while the gateway cannot take an entry; the same entry is offered again. */
  const pauseFor = (why: string, round: number) =>
    Effect.gen(function*() {
      if (stats.paused === null) {
        yield* Effect.logWarning(`redis bus: paused, ${why}; entries wait in ${INBOUND}`)
      }
      stats.paused = why
      yield* Effect.sleep(Math.min(100 * 2 ** round, 5000))
    })

  const processEntry = (entry: RawEntry): Effect.Effect<"ok" | "stopped", RedisError> =>
    Effect.gen(function*() {
      if (entry.fields === null) {
        // Deleted while pending (XAUTOCLAIM on Redis 7 reports these): nothing to handle.
        yield* ack(entry.id)
        return "ok" as const
      }
      if (entry.deliveries > options.maxDeliveries) {
        const type = String(pairs(entry.fields)["type"])
        yield* deadLetter(entry, (ENTRY_TYPES as ReadonlyArray<string>).includes(type) ? type : "unknown", "too_many_deliveries",
          `delivered ${entry.deliveries} times without being acknowledged (SWITCHBOARD_REDIS_MAX_DELIVERIES is ${options.maxDeliveries})`)
        return "ok" as const
      }
      for (let round = 0;; round++) {
        const verdict = yield* options.handle(entry)
        if (verdict._tag === "Wait") {
          yield* pauseFor(verdict.why, round)
          continue
        }
        if (stats.paused !== null) {
          stats.paused = null
          yield* Effect.logInfo("redis bus: resumed")
        }
        switch (verdict._tag) {
          case "Stop":
            return "stopped" as const
          case "Dead":
            yield* deadLetter(entry, verdict.type, verdict.code, verdict.reason)
            return "ok" as const
          case "Leave":
            yield* Effect.logError("redis bus: could not handle an entry; it stays pending and is tried again").pipe(
              Effect.annotateLogs({ streamId: entry.id, type: verdict.type, deliveries: entry.deliveries, why: verdict.why })
            )
            yield* Metric.update(Metric.withAttributes(busEntries, { type: verdict.type, outcome: "left" }), 1)
            return "ok" as const
          case "Ack":
            yield* ackSoon(entry.id)
            yield* Metric.update(Metric.withAttributes(busEntries, { type: verdict.type, outcome: verdict.outcome }), 1)
            return "ok" as const
        }
      }
    })

  /** Delivery counts of pending entries (XREADGROUP of history and XAUTOCLAIM each count one). */
  const deliveriesOf = (ids: ReadonlyArray<string>) =>
    ids.length === 0
      ? Effect.succeed(new Map<string, number>())
      : conn.run("xpending", (c) => c.xpending(INBOUND, GROUP, ids[0]!, ids[ids.length - 1]!, ids.length, consumer)).pipe(
        Effect.map((rows) => new Map((rows as Array<[string, string, number, number]>).map(([id, , , n]) => [id, Number(n)])))
      )

  const processAll = (entries: ReadonlyArray<{ id: string; fields: Array<string> | null }>, counted: boolean) =>
    Effect.gen(function*() {
      const deliveries = counted ? yield* deliveriesOf(entries.map((e) => e.id)) : new Map<string, number>()
      for (const e of entries) {
        if ((yield* processEntry({ ...e, deliveries: deliveries.get(e.id) ?? 1 })) === "stopped") {
          yield* settleAcks
          return "stopped" as const
        }
      }
      yield* settleAcks
      return "ok" as const
    }).pipe(Effect.onError(() => Effect.sync(() => void inFlightAcks.splice(0))))

  /** This consumer's own pending entries, oldest first, until there are none left to read. */
  const drainPending = Effect.gen(function*() {
    let after = "0"
    for (;;) {
      const batch = entriesOf(yield* conn.run("xreadgroup pending", (c) =>
        c.xreadgroup("GROUP", GROUP, consumer, "COUNT", BATCH, "STREAMS", INBOUND, after) as Promise<StreamReply>))
      if (batch.length === 0) return "ok" as const
      if ((yield* processAll(batch, true)) === "stopped") return "stopped" as const
      after = batch[batch.length - 1]!.id
    }
  })

  /** Entries idle longer than the claim time in any consumer (one that died, or our own leftovers). */
  const claim = Effect.gen(function*() {
    let cursor = "0-0"
    do {
      const [next, claimed, deleted] = (yield* conn.run("xautoclaim", (c) =>
        c.xautoclaim(INBOUND, GROUP, consumer, options.claimIdleMs, cursor, "COUNT", BATCH))) as [
          string,
          Array<[string, Array<string> | null]>,
          Array<string>?
        ]
      for (const id of deleted ?? []) yield* ack(id)
      if (claimed.length > 0) {
        stats.claimed += claimed.length
        yield* Metric.update(busClaimed, claimed.length)
        yield* Effect.logInfo(`redis bus: claimed ${claimed.length} entr${claimed.length === 1 ? "y" : "ies"} left pending by another consumer`)
        if ((yield* processAll(claimed.map(([id, fields]) => ({ id, fields })), true)) === "stopped") return "stopped" as const
      }
      cursor = next
    } while (cursor !== "0-0")
    yield* forgetIdleConsumers(conn, consumer)
    return "ok" as const
  })

  const readNew = conn.run(
    "xreadgroup",
    (c) =>
      c.xreadgroup("GROUP", GROUP, consumer, "COUNT", BATCH, "BLOCK", options.blockMs, "STREAMS", INBOUND, ">") as Promise<StreamReply>,
    options.blockMs + options.stallMs
  ).pipe(Effect.map(entriesOf))

  const loop = Effect.gen(function*() {
    yield* ensureGroup
    yield* options.onUp
    if ((yield* drainPending) === "stopped") return "stopped" as const
    const claimEveryMs = Math.max(100, Math.floor(options.claimIdleMs / 2))
    let lastClaim = -Infinity
    let lastMaintain = -Infinity
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      if (now - lastClaim >= claimEveryMs) {
        if ((yield* claim) === "stopped") return "stopped" as const
        lastClaim = now
      }
      if (now - lastMaintain >= MAINTAIN_EVERY_MS) {
        yield* maintain(conn, stats)
        lastMaintain = now
      }
      if ((yield* processAll(yield* readNew, false)) === "stopped") return "stopped" as const
    }
  })

  // The group vanished under a live connection (FLUSHDB, a deleted stream): create it again and
  // read on; a restarted Redis drops the connection instead, and the next session does the same.
  const run: Effect.Effect<"stopped", RedisError> = loop.pipe(
    Effect.catchIf((e) => e.noGroup, () =>
      Effect.logWarning(`redis bus: consumer group ${GROUP} on ${INBOUND} was missing (Redis lost its data?): created it again`).pipe(
        Effect.andThen(Effect.suspend(() => run))
      ))
  )
  return run
}

export { RedisError }
