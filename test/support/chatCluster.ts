// A cluster of built daemons (test/support/cluster.ts) with one agent in per-chat scope on the fake
// chat-completions server, which records every turn (test/support/turnRecorder.ts), and helpers to
// post a chat's messages and read what each chat was answered. Shared by test/cluster/.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect } from "vitest"
import { type Daemon, eventually } from "./daemon.ts"
import type { InboxMessage, MessageRecord } from "./daemonDriver.ts"
import { type ClusterOptions, startCluster, type TestCluster } from "./cluster.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "./fakeChatCompletions.ts"
import { modelUrlFor, recordTurns, type TurnRecorder } from "./turnRecorder.ts"

export interface ChatCluster {
  readonly cluster: TestCluster
  readonly model: TurnRecorder
  readonly fake: FakeChatCompletions
  readonly dispose: () => Promise<void>
}

export interface ChatClusterOptions extends Omit<ClusterOptions, "env"> {
  /** The agent's bindings (default `http:*`). */
  readonly bindings?: ReadonlyArray<string>
  /** How long the model takes per turn. */
  readonly turnMs: number
  readonly env?: Record<string, string>
}

/** Start the fake model and the daemons, and wait until the shards are spread over all of them. */
export const startChatCluster = async (options: ChatClusterOptions): Promise<ChatCluster> => {
  const fake = await startFakeChatCompletions()
  const model = recordTurns(fake, { delayMs: options.turnMs })
  const dir = mkdtempSync(join(tmpdir(), "switchboard-cluster-"))
  const agents = join(dir, "agents.json")
  writeFileSync(agents, JSON.stringify({ agents: [{ name: "chat", scope: "per-chat", bindings: options.bindings ?? ["http:*"] }] }))
  const cleanup = async () => {
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const cluster = await startCluster({
      ...options,
      env: {
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        SWITCHBOARD_AGENTS_FILE: agents,
        SWITCHBOARD_LOG_LEVEL: "Warn",
        // Turns wait on the fake model, not on CPU: more at once keeps the scenarios short.
        SWITCHBOARD_MAX_CONCURRENT_TURNS: "8",
        ...options.env
      },
      envOf: (i) => ({ OPENAI_BASE_URL: modelUrlFor(fake, i), ...options.envOf?.(i) })
    })
    await cluster.settled().catch(async (e) => {
      await cluster.dispose()
      throw e
    })
    return {
      cluster,
      model,
      fake,
      dispose: async () => {
        await cluster.dispose()
        await cleanup()
      }
    }
  } catch (e) {
    await cleanup()
    throw e
  }
}

export interface Sent {
  readonly chat: number
  readonly id: string
  readonly text: string
}

/** POST message `k` of chat `c` (text `c<c>#<k>`, id `c<c>-<k>`) to `via`; 202 expected. */
export const postMessage = async (via: Daemon, c: number, k: number): Promise<Sent> => {
  const text = `c${c}#${k}`
  const posted = await via.post<{ id: string }>("/v1/messages", { text, source: `http:c${c}`, id: `c${c}-${k}` })
  expect(posted.status, JSON.stringify(posted.body)).toBe(202)
  return { chat: c, id: posted.body.id, text }
}

/** Long-poll each message's record on `on` until it is done or failed. */
export const awaitRecords = (on: (s: Sent) => Daemon, sent: ReadonlyArray<Sent>, timeoutMs = 60_000) =>
  Promise.all(sent.map((s) =>
    eventually(async () => {
      const r = await on(s).json<MessageRecord>(`/v1/messages/${encodeURIComponent(s.id)}?wait=10`)
      return r.body?.status === "done" || r.body?.status === "failed" ? r.body : undefined
    }, timeoutMs, 50)
  ))

/** The replies in chat `c`'s inbox (shared by the daemons), in the order it got them: `<request id> <text>`. */
export const repliesIn = async (d: Daemon, c: number) => {
  const inbox = (await d.json<{ messages: ReadonlyArray<InboxMessage> }>(`/v1/inbox/http:c${c}?after=0`)).body.messages
  return [...inbox].sort((a, b) => a.seq - b.seq).filter((m) => m.kind === "reply").map((m) => `${m.requestId} ${m.text}`)
}

/** What chat `c`'s inbox should hold: one reply per message, in the order sent. */
export const expectedReplies = (sent: ReadonlyArray<Sent>, c: number) =>
  sent.filter((s) => s.chat === c).map((s) => `${s.id} reply to ${s.text}`)
