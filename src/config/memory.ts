// Memory that clients can grow, bounded in bytes (not counts): a count of 10,000 records is
// gigabytes when each holds a 60 KB reply.
import { Config } from "effect"
import { positiveInt } from "./values.ts"

const MiB = 1024 * 1024

export const MemoryConfig = Config.all({
  /** Finished requests kept for GET /v1/messages/:id, by the size of their replies (oldest forgotten first). */
  requestLogBytes: positiveInt("SWITCHBOARD_REQUEST_LOG_BYTES", 16 * MiB),
  /** Each http:/cli: inbox (oldest messages dropped first). */
  inboxBytes: positiveInt("SWITCHBOARD_INBOX_BYTES", 1 * MiB),
  /** All inboxes together (the longest-quiet inbox forgotten first). */
  inboxTotalBytes: positiveInt("SWITCHBOARD_INBOX_TOTAL_BYTES", 32 * MiB),
  /** Pending system events of all session keys together (the oldest dropped first). */
  systemEventsBytes: positiveInt("SWITCHBOARD_SYSTEM_EVENTS_BYTES", 8 * MiB),
  /** A reply stored in the request log or an inbox is cut to this many bytes, with a marker. */
  storedReplyBytes: positiveInt("SWITCHBOARD_STORED_REPLY_BYTES", 256 * 1024)
})
