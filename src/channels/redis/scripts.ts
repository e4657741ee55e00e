// The two writes that must be atomic on the Redis side, as Lua scripts (EVALSHA; ioredis loads a
// script again by itself after a Redis restart emptied the script cache).
import type { Redis } from "ioredis"

/**
 * XADD to switchboard:outbound at most once per delivery id: the id is remembered (SET … EX) in
 * the same script, so the outbox re-sending after a crash between the XADD and the store's commit,
 * or a retry after a lost reply, finds it and adds nothing. Returns [1, id] or [0, earlier id].
 * KEYS: delivered-id key, outbound stream. ARGV: ttl seconds, maxlen, field, value, …
 */
const PUBLISH_ONCE = `
local seen = redis.call('GET', KEYS[1])
if seen then return {0, seen} end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))
redis.call('SET', KEYS[1], id, 'EX', ARGV[1])
return {1, id}
`

/**
 * Acknowledge an inbound entry and, only if it was still pending (so exactly once), copy it to
 * switchboard:dead with its reason. Returns 1 when it was dead-lettered now.
 * KEYS: inbound stream, dead stream. ARGV: group, stream id, maxlen, reason, entry JSON, code.
 */
const DEAD_LETTER = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if acked == 1 then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*',
    'reason', ARGV[4], 'entry', ARGV[5], 'streamId', ARGV[2], 'code', ARGV[6])
end
return acked
`

export interface BusScripts {
  publishOnce(
    deliveredKey: string,
    stream: string,
    ttlSeconds: number,
    maxLen: number,
    ...fields: Array<string>
  ): Promise<[number, string]>
  deadLetter(
    inbound: string,
    dead: string,
    group: string,
    streamId: string,
    maxLen: number,
    reason: string,
    entry: string,
    code: string
  ): Promise<number>
}

/** Defines the scripts on a client (idempotent) and returns it typed with them. */
export const withScripts = (client: Redis): Redis & BusScripts => {
  const c = client as Redis & Partial<BusScripts>
  if (c.publishOnce === undefined) client.defineCommand("publishOnce", { numberOfKeys: 2, lua: PUBLISH_ONCE })
  if (c.deadLetter === undefined) client.defineCommand("deadLetter", { numberOfKeys: 2, lua: DEAD_LETTER })
  return client as Redis & BusScripts
}
