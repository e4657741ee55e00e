// The bus's names and small policies: streams, group, consumer name, delivery ids, backoff, the
// trim point of the inbound stream. Pure.
import { createHash } from "node:crypto"
import { resolve } from "node:path"
import type { Outbound } from "../../domain/model.ts"

export const INBOUND = "switchboard:inbound"
export const OUTBOUND = "switchboard:outbound"
export const DEAD = "switchboard:dead"
export const GROUP = "switchboard"
/** Prefix of the keys that remember an outbound delivery (SET NX … EX ttl). */
export const DELIVERED_PREFIX = "switchboard:delivered:"

const sha = (s: string, n = 16) => createHash("sha256").update(s).digest("hex").slice(0, n)

/**
 * Stable for one daemon: the host plus its state dir (one daemon per state dir), so after a restart
 * it finds its own pending entries again. In containers whose hostname changes, set
 * SWITCHBOARD_REDIS_CONSUMER; otherwise the old name's entries are claimed after the claim idle time.
 */
export const consumerName = (hostname: string, stateDir: string): string =>
  `${hostname}:${sha(resolve(stateDir), 8)}`

/**
 * The id under which a delivery is written to switchboard:outbound at most once. The same message
 * sent again (the outbox after a crash between XADD and its commit, a retry after a timeout) has
 * the same id. A reply, error or relay is one per request; a question is one per question id; a
 * notification of a request is one per text. A message that belongs to no request has no stable
 * identity and is not deduplicated (undefined).
 */
export const deliveryId = (target: string, message: Outbound): string | undefined => {
  if (message.question !== undefined) return `${DELIVERED_PREFIX}${sha(`${target}\n${message.question.id}`, 32)}`
  if (message.requestId === undefined || message.requestId === "") return undefined
  const which = message.kind === "notify" || message.kind === "ask" ? `\n${sha(message.text, 32)}` : ""
  return `${DELIVERED_PREFIX}${sha(`${target}\n${message.kind}\n${message.requestId}${which}`, 32)}`
}

/** 100 ms, 200 ms, 400 ms … at most `maxMs` (attempt counts from 1). */
export const reconnectDelayMs = (attempt: number, maxMs: number): number =>
  Math.max(1, Math.min(maxMs, 100 * 2 ** Math.min(Math.max(attempt - 1, 0), 20)))

/** One consumer group as XINFO GROUPS (+ XPENDING for its lowest pending id) describes it. */
export interface GroupPosition {
  readonly lastDeliveredId: string
  readonly lowestPendingId: string | undefined
}

const parseId = (id: string): [bigint, bigint] => {
  const [ms, seq] = id.split("-")
  return [BigInt(ms ?? "0"), BigInt(seq ?? "0")]
}

export const compareIds = (a: string, b: string): number => {
  const [am, as] = parseId(a)
  const [bm, bs] = parseId(b)
  return am < bm ? -1 : am > bm ? 1 : as < bs ? -1 : as > bs ? 1 : 0
}

/**
 * The `XTRIM MINID` point: every entry below it has been delivered to and acknowledged by every
 * group on the stream (ours and anybody else's), so removing it loses nothing anyone still needs.
 * Undefined when nothing can go (no group, or a group that has read nothing yet).
 */
export const trimPoint = (groups: ReadonlyArray<GroupPosition>): string | undefined => {
  if (groups.length === 0) return undefined
  const points = groups.map((g) => g.lowestPendingId ?? g.lastDeliveredId)
  const lowest = points.reduce((a, b) => (compareIds(a, b) <= 0 ? a : b))
  return lowest === "0-0" ? undefined : lowest
}

/** `redis://user:secret@host:6380/2` → `host:6380/2`: what logs and /status may show. */
export const describeUrl = (url: string): string => {
  try {
    const u = new URL(url)
    const db = u.pathname.replace(/^\//, "") || "0"
    return `${u.protocol === "rediss:" ? "rediss://" : ""}${u.hostname}:${u.port || "6379"}/${db}`
  } catch {
    return "(unparsable REDIS_URL)"
  }
}
