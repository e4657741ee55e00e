// Driving the built daemon (test/support/daemon.ts) as an HTTP client would: post and wait, read an
// inbox, read what the fake model was sent. Shared by the end-to-end tests.
import { expect } from "vitest"
import { type Daemon, eventually } from "./daemon.ts"
import type { RecordedRequest } from "./fakeChatCompletions.ts"

export interface MessageRecord {
  readonly id: string
  readonly status: "queued" | "running" | "done" | "failed"
  readonly reply?: string
  readonly error?: string
}

export interface InboxMessage {
  readonly seq: number
  readonly kind: string
  readonly requestId?: string
  readonly text: string
  readonly question?: { readonly id: string; readonly options: ReadonlyArray<string> }
}

/** POST a message and long-poll its record until it is done or failed. */
export const converse = async (d: Daemon, source: string, text: string, timeoutMs = 15_000): Promise<MessageRecord> => {
  const posted = await d.post<{ id: string }>("/v1/messages", { text, source })
  expect(posted.status).toBe(202)
  return eventually(async () => {
    const r = await d.json<MessageRecord>(`/v1/messages/${encodeURIComponent(posted.body.id)}?wait=5`)
    return r.body.status === "done" || r.body.status === "failed" ? r.body : undefined
  }, timeoutMs)
}

export const inboxOf = async (d: Daemon, source: string, after = 0, wait = 0): Promise<ReadonlyArray<InboxMessage>> =>
  (await d.json<{ messages: ReadonlyArray<InboxMessage> }>(`/v1/inbox/${source}?after=${after}&wait=${wait}`)).body.messages

/** Long-poll `source`'s inbox until a message `match` accepts arrives. */
export const awaitInbox = (d: Daemon, source: string, match: (m: InboxMessage) => boolean, timeoutMs = 15_000) =>
  eventually(async () => (await inboxOf(d, source, 0, 2)).find(match), timeoutMs)

/** The text of a chat message (string or content parts). */
export const textOf = (m: RecordedRequest["messages"][number]): string =>
  typeof m.content === "string"
    ? m.content
    : Array.isArray(m.content)
    ? (m.content as ReadonlyArray<{ text?: string }>).map((p) => p.text ?? "").join("")
    : ""

export const lastUser = (r: RecordedRequest) => r.messages.filter((m) => m.role === "user").map(textOf).at(-1) ?? ""
