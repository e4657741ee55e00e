// Cluster mode: what a user does on one daemon reaches a session that runs on another. Two BUILT
// daemons on a fresh Postgres database, one per-chat agent on the recording fake model (2 s turns).
// A system event posted to one daemon is relayed in its chat's session wherever that runs, once;
// /stop sent to one daemon stops the turn running on the other; a daemon stopped with SIGTERM
// finishes its running turns and hands its sessions over (their conversations go with them), and
// every message is answered once.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../support/daemon.ts"
import { awaitRecords, type ChatCluster, postMessage, type Sent, startChatCluster } from "../support/chatCluster.ts"
import type { InboxMessage } from "../support/daemonDriver.ts"
import { skipWithoutPostgres } from "../support/postgres.ts"

const skip = await skipWithoutPostgres("test/cluster/across-daemons.test.ts")
const TURN_MS = 2000

const inbox = async (chat: ChatCluster, on: number, c: number) =>
  (await chat.cluster.daemons[on]!.json<{ messages: ReadonlyArray<InboxMessage> }>(`/v1/inbox/http:c${c}?after=0`)).body.messages

/** Which daemon ran (or runs) the turn for message `text`, from the fake model's records. */
const ranOn = (chat: ChatCluster, text: string) => chat.model.turns.find((t) => t.message === text)?.daemon

describe.skipIf(skip)("cluster: across daemons", () => {
  let chat: ChatCluster
  beforeAll(async () => void (chat = await startChatCluster({ turnMs: TURN_MS, lockExpiration: "10 seconds" })), 60_000)
  afterAll(() => chat?.dispose())

  it("a system event posted to one daemon is relayed once in its chat, whichever daemon runs that session", async () => {
    const [one, two] = chat.cluster.daemons as [typeof chat.cluster.daemons[0], typeof chat.cluster.daemons[0]]
    const CHATS = 12
    // Each chat's session opened by a first message, so the sessions are spread over both daemons.
    const first = await Promise.all(Array.from({ length: CHATS }, (_, c) => postMessage(one, 100 + c, 1)))
    await awaitRecords(() => two, first)
    for (let c = 0; c < CHATS; c++) {
      const posted = await two.post("/v1/system-events", { sessionKey: `http:c${100 + c}`, text: `build ${c} passed` })
      expect(posted.status, JSON.stringify(posted.body)).toBe(202)
    }
    for (let c = 0; c < CHATS; c++) {
      const relays = await eventually(async () => {
        const got = (await inbox(chat, 0, 100 + c)).filter((m) => m.kind === "relay")
        return got.length > 0 ? got : undefined
      }, 30_000)
      expect(relays.map((m) => m.text), `chat c${100 + c}`).toEqual([expect.stringContaining(`build ${c} passed`)])
    }
    // The daemon that received the events consumed them once each relay replied: nothing in flight,
    // nothing left to relay again.
    const relays = await eventually(async () => {
      const r = (await two.json<{ heartbeat: { relays: { inFlight: Array<string>; sent: number; replied: number } } }>("/status")).body.heartbeat.relays
      return r.replied === CHATS ? r : undefined
    }, 15_000)
    expect(relays).toMatchObject({ inFlight: [], sent: CHATS, replied: CHATS })
    const hosts = new Set(first.map((s) => ranOn(chat, s.text)))
    expect([...hosts].sort(), "sessions on both daemons").toEqual([0, 1])
  }, 90_000)

  it("/stop sent to one daemon stops the turn running on the other", async () => {
    const daemons = chat.cluster.daemons
    const c = 200
    const sent = await postMessage(daemons[0]!, c, 1)
    await chat.model.until("the turn to start", (ts) => ts.some((t) => t.message === sent.text))
    const runner = ranOn(chat, sent.text)!
    const other = daemons[1 - runner]!
    const stop = await other.post<{ reply?: string }>("/v1/messages", { text: "/stop", source: `http:c${c}` })
    expect(stop.body.reply).toBe("Stopped the running turn.")
    const [record] = await awaitRecords(() => other, [sent], 10_000)
    expect(record).toMatchObject({ status: "failed", error: "Stopped." })
    const turn = chat.model.turns.find((t) => t.message === sent.text)!
    expect(turn.aborted, "the model request was cut off").toBe(true)
  }, 60_000)

  it("a daemon stopped with SIGTERM finishes its running turns and hands its sessions over: every message answered once", async () => {
    const daemons = chat.cluster.daemons
    const CHATS = 8
    const sent: Array<Sent> = []
    for (let c = 300; c < 300 + CHATS; c++) {
      sent.push(await postMessage(daemons[c % 2]!, c, 1), await postMessage(daemons[c % 2]!, c, 2))
    }
    // Once first turns run on the daemon to stop, stop it.
    await chat.model.until("a turn on daemon 1", (ts) => ts.some((t) => t.daemon === 1 && t.message.startsWith("c3")))
    const stopping = daemons[1]!
    const running = chat.model.turns.filter((t) => t.daemon === 1 && t.endedAt === undefined && t.message.startsWith("c3")).map((t) => t.message)
    expect(await stopping.stop("SIGTERM")).toBe(0)
    const records = await awaitRecords(() => daemons[0]!, sent, 60_000)
    for (const [i, r] of records.entries()) expect(r, sent[i]!.id).toMatchObject({ status: "done", reply: `reply to ${sent[i]!.text}` })
    // What was running when it was told to stop finished there (its grace), not cut off. Its stored
    // outcome can lose the race with the hand-over, so it may run once more on the other daemon:
    // its reply is not sent twice (the inbox check below).
    for (const text of running) {
      const first = chat.model.turns.find((t) => t.message === text)!
      expect([first.daemon, first.aborted, first.endedAt !== undefined], text).toEqual([1, false, true])
    }
    // A session that moved kept its conversation: the second message's turn was shown the first.
    for (let c = 300; c < 300 + CHATS; c++) {
      const second = chat.model.turns.find((t) => t.message === `c${c}#2` && !t.aborted)!
      expect(second.history, `c${c}#2 on daemon ${second.daemon}`).toBeGreaterThanOrEqual(2)
    }
    const moved = [...Array(CHATS).keys()].map((i) => 300 + i).filter((c) =>
      ranOn(chat, `c${c}#1`) === 1 && chat.model.turns.some((t) => t.message === `c${c}#2` && t.daemon === 0))
    expect(moved.length, "sessions moved from the stopped daemon").toBeGreaterThan(0)
    for (let c = 300; c < 300 + CHATS; c++) {
      const replies = (await inbox(chat, 0, c)).filter((m) => m.kind === "reply").map((m) => m.requestId)
      expect(replies, `chat c${c}`).toEqual(sent.filter((s) => s.chat === c).map((s) => s.id))
    }
  }, 90_000)
})

describe.skipIf(skip)("cluster: turns at once per daemon", () => {
  let chat: ChatCluster
  beforeAll(async () =>
    void (chat = await startChatCluster({ daemons: 1, turnMs: 1000, env: { SWITCHBOARD_MAX_CONCURRENT_TURNS: "2" } })), 60_000)
  afterAll(() => chat?.dispose())

  it("a daemon of a cluster runs SWITCHBOARD_MAX_CONCURRENT_TURNS turns at once, no more and no fewer", async () => {
    const daemon = chat.cluster.daemons[0]!
    const sent = await Promise.all(Array.from({ length: 6 }, (_, c) => postMessage(daemon, 400 + c, 1)))
    const records = await awaitRecords(() => daemon, sent, 30_000)
    for (const [i, r] of records.entries()) expect(r, sent[i]!.id).toMatchObject({ status: "done" })
    expect(chat.model.maxInFlight()).toBe(2)
  }, 60_000)
})
