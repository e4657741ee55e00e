// Cluster mode end to end on the machine's Postgres: two BUILT daemons as processes on a fresh
// database per scenario, one agent in per-chat scope on the fake chat-completions server, which
// records which daemon ran which message's turn, when, and whether it was cut off. One file, so
// that only two daemons of this suite run at once (each scenario is CPU-bound on two cores).
import { Effect, Exit, Scope } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually } from "../support/daemon.ts"
import type { ClusterDaemon } from "../support/cluster.ts"
import { awaitRecords, type ChatCluster, expectedReplies, postMessage, repliesIn, type Sent, startChatCluster } from "../support/chatCluster.ts"
import { type FakeBotApi, fakeBotApi, textUpdate } from "../support/fakeBotApi.ts"
import { skipWithoutPostgres } from "../support/postgres.ts"
import { type ModelTurn, overlaps } from "../support/turnRecorder.ts"

const skip = await skipWithoutPostgres("test/cluster/cluster.test.ts")
const LOCK_MS = 4000

/** Turns of chat `c` (messages `c<c>#k`), by start. */
const turnsOf = (turns: ReadonlyArray<ModelTurn>, prefix: string) =>
  turns.filter((t) => t.message.startsWith(prefix)).sort((a, b) => a.startedAt - b.startedAt)

/** Messages whose turn ran more than once (at least once is the contract; logged, for the record). */
const reruns = (turns: ReadonlyArray<ModelTurn>) =>
  [...new Set(turns.map((t) => t.message))].filter((m) => turns.filter((t) => t.message === m).length > 1)

describe.skipIf(skip)("cluster: HTTP messages posted to both daemons", () => {
  const CHATS = 50
  const PER_CHAT = 4
  let chat: ChatCluster
  // No daemon is killed here: a lock of 10 s keeps a CPU-starved runner from losing its shards.
  beforeAll(async () => void (chat = await startChatCluster({ turnMs: 100, lockExpiration: "10 seconds" })), 60_000)
  afterAll(() => chat?.dispose())

  it("200 messages across 50 chats: each answered exactly once, in the order sent, readable on either daemon", async () => {
    const { cluster, model } = chat
    const daemons = cluster.daemons
    // Each chat's messages one after another (the next once the previous was accepted), alternating
    // between the daemons; the chats all at once.
    const sent = (await Promise.all(Array.from({ length: CHATS }, async (_, c) => {
      const mine: Array<Sent & { via: number }> = []
      for (let k = 1; k <= PER_CHAT; k++) mine.push({ ...(await postMessage(daemons[(c + k) % 2]!, c, k)), via: (c + k) % 2 })
      return mine
    }))).flat()
    // Read on the daemon that did not accept it: records and inboxes are shared.
    const records = await awaitRecords((s) => daemons[1 - (s as Sent & { via: number }).via]!, sent)
    for (const [i, record] of records.entries()) expect(record, sent[i]!.id).toMatchObject({ status: "done", reply: `reply to ${sent[i]!.text}` })
    for (let c = 0; c < CHATS; c++) expect(await repliesIn(daemons[c % 2]!, c), `chat c${c}`).toEqual(expectedReplies(sent, c))

    const twice = reruns(model.turns)
    if (twice.length > 0) console.warn(`turns that ran twice without a crash: ${twice.join(", ")}`)
    for (let c = 0; c < CHATS; c++) {
      const turns = turnsOf(model.turns, `c${c}#`)
      expect(overlaps(turns), `chat c${c}: two turns at once`).toEqual([])
      const firsts = turns.filter((t, i) => turns.findIndex((u) => u.message === t.message) === i)
      expect(firsts.map((t) => t.message), `chat c${c}: order`).toEqual(Array.from({ length: PER_CHAT }, (_, k) => `c${c}#${k + 1}`))
      // One conversation per chat: its k-th turn was shown k user messages.
      if (!turns.some((t) => twice.includes(t.message))) expect(turns.map((t) => t.history), `chat c${c}`).toEqual([1, 2, 3, 4])
    }
    const perDaemon = [0, 1].map((d) => model.turns.filter((t) => t.daemon === d).length)
    expect(Math.min(...perDaemon), `turns per daemon: ${perDaemon}`).toBeGreaterThan(0)
    expect(model.maxInFlight(), "different chats ran side by side").toBeGreaterThan(1)
  }, 90_000)

  it("/status of each daemon has a cluster section naming its own runner address", async () => {
    for (const d of chat.cluster.daemons) expect(await d.cluster()).toMatchObject({ runner: d.runner, shards: chat.cluster.shards })
  })
})

describe.skipIf(skip)("cluster: kill -9 of a daemon mid-burst", () => {
  const CHATS = 30
  const PER_CHAT = 4
  let chat: ChatCluster
  beforeAll(async () => void (chat = await startChatCluster({ turnMs: 300, lockExpiration: `${LOCK_MS / 1000} seconds` })), 60_000)
  afterAll(() => chat?.dispose())

  it("the killed daemon's sessions resume on the other after the lock expires; cut-off turns run again; every message is answered exactly once", async () => {
    const { cluster, model } = chat
    const [survivor, victim] = cluster.daemons as [ClusterDaemon, ClusterDaemon]
    const sent: Array<Sent> = []
    let killedAt = 0
    const post = async (c: number, k: number) => {
      // Both daemons take messages until the kill, the survivor the rest; a post the kill cut off
      // was not accepted, so the client sends it again.
      const via = killedAt === 0 && (c + k) % 2 === 1 ? victim : survivor
      sent.push(await postMessage(via, c, k).catch(() => postMessage(survivor, c, k)))
    }
    await Promise.all(Array.from({ length: CHATS }, async (_, c) => {
      await post(c, 1)
      await post(c, 2)
    }))
    // Kill once the victim has answered some turns and runs others; post the rest meanwhile.
    await model.until("turns done and in flight on the victim", (ts) =>
      ts.filter((t) => t.daemon === victim.index && t.endedAt === undefined).length >= 2 &&
      ts.filter((t) => t.daemon === victim.index && t.endedAt !== undefined).length >= 3
    )
    // The turns running on the victim now are cut off for certain: their answers are withheld.
    model.withhold(victim.index)
    const inFlight = model.turns.filter((t) => t.daemon === victim.index && t.endedAt === undefined).map((t) => t.message)
    const rest = Promise.all(Array.from({ length: CHATS }, async (_, c) => {
      for (let k = 3; k <= PER_CHAT; k++) await post(c, k)
    }))
    killedAt = Date.now()
    await victim.kill9()
    await rest

    const records = await awaitRecords(() => survivor, sent)
    const answeredAt = Date.now()
    for (const [i, record] of records.entries()) {
      expect(record, `${sent[i]!.id}\n${cluster.logs()}`).toMatchObject({ status: "done", reply: `reply to ${sent[i]!.text}` })
    }
    for (let c = 0; c < CHATS; c++) {
      const inbox = (await survivor.json<{ messages: ReadonlyArray<{ requestId?: string; kind: string; at: string }> }>(`/v1/inbox/http:c${c}?after=0`)).body.messages
      const when = inbox.map((m) => `${m.kind} ${m.requestId} at ${Date.parse(m.at) - killedAt} ms`).join("; ")
      const turns = turnsOf(model.turns, `c${c}#`).map((t) => `${t.message} d${t.daemon} ${t.startedAt - killedAt}..${(t.abortedAt ?? t.endedAt ?? NaN) - killedAt}${t.aborted ? " cut" : ""}`)
      expect(await repliesIn(survivor, c), `chat c${c} (times from the kill): inbox ${when}; turns ${turns.join(", ")}`).toEqual(expectedReplies(sent, c))
    }

    // The kill cut turns off on the victim; each ran again on the survivor once the lock expired.
    const cut = model.turns.filter((t) => t.aborted)
    for (const m of inFlight) expect(cut.map((t) => t.message), `${m} was running when the victim was killed`).toContain(m)
    const again: Array<number> = []
    const warnings = () => cluster.logs().split("\n").filter((l) => /"level":"(WARN|ERROR)"/.test(l)).slice(0, 30).join("\n")
    // A survivor starved of CPU can miss its own lock refresh ("Shard lock storage is unhealthy"):
    // it then lets its shards go and replays its turns too, which is safe. Only then may it cut one.
    const survivorLostLocks = survivor.lines.some((l) => l.includes("Shard lock storage is unhealthy"))
    for (const t of cut) {
      if (t.daemon === survivor.index && survivorLostLocks) continue
      expect(t.daemon, `${t.message} cut off ${t.startedAt - killedAt}..${t.abortedAt! - killedAt} ms around the kill\n${warnings()}`).toBe(victim.index)
      const rerun = model.completed().find((u) => u.message === t.message && u.startedAt > killedAt)
      expect(rerun?.daemon, `${t.message} ran again on the survivor`).toBe(survivor.index)
      again.push(rerun!.startedAt - killedAt)
    }
    expect(Math.min(...again), "a cut-off turn ran again before the victim's lock could expire").toBeGreaterThan(LOCK_MS / 2)
    for (let c = 0; c < CHATS; c++) expect(overlaps(turnsOf(model.turns, `c${c}#`)), `chat c${c}: two turns at once`).toEqual([])
    expect(await cluster.settled()).toEqual({ [survivor.runner]: cluster.shards })
    console.log(`cluster failover (lock ${LOCK_MS} ms): ${cut.length} turns cut off by kill -9 ran again ${Math.min(...again)}-` +
      `${Math.max(...again)} ms after it; all ${sent.length} messages answered ${answeredAt - killedAt} ms after it; ` +
      `turns run more than once: ${reruns(model.turns).length}`)
  }, 90_000)
})

describe.skipIf(skip)("cluster: a session's conversation across kill -9", () => {
  let chat: ChatCluster
  beforeAll(async () => void (chat = await startChatCluster({ turnMs: 50, lockExpiration: `${LOCK_MS / 1000} seconds` })), 60_000)
  afterAll(() => chat?.dispose())

  it("after kill -9 of its daemon a chat's next turn, on the other daemon, is shown the conversation so far", async () => {
    const { cluster, model } = chat
    const [a, b] = cluster.daemons as [ClusterDaemon, ClusterDaemon]
    // One message per chat; the chats whose turn ran on b are b's sessions.
    const firsts = await Promise.all(Array.from({ length: 10 }, (_, c) => postMessage(a, c, 1)))
    await awaitRecords(() => a, firsts)
    const onB = model.completed().filter((t) => t.daemon === b.index).map((t) => Number(/^c(\d+)#/.exec(t.message)![1]))
    expect(onB.length, "no session on daemon b").toBeGreaterThan(0)
    await b.kill9()
    const seconds = await Promise.all(onB.map((c) => postMessage(a, c, 2)))
    for (const r of await awaitRecords(() => a, seconds)) expect(r.status).toBe("done")
    for (const c of onB) {
      const second = model.completed().find((t) => t.message === `c${c}#2`)!
      expect(second.daemon).toBe(a.index)
      expect(second.history, `chat c${c}: its second turn was shown ${second.history} user message(s)`).toBe(2)
    }
  }, 60_000)
})

describe.skipIf(skip)("cluster: Telegram polling is a singleton", () => {
  const CHATS = Array.from({ length: 50 }, (_, i) => 1001 + i)
  let scope: Scope.Closeable
  let bot: FakeBotApi
  let chat: ChatCluster
  beforeAll(async () => {
    scope = await Effect.runPromise(Scope.make())
    bot = await Effect.runPromise(Scope.provide(scope)(fakeBotApi))
    chat = await startChatCluster({
      turnMs: 200,
      lockExpiration: `${LOCK_MS / 1000} seconds`,
      bindings: ["telegram:*"],
      env: { TELEGRAM_BOT_TOKEN: bot.token, TELEGRAM_ALLOWED_CHAT_IDS: CHATS.join(","), TELEGRAM_POLL_TIMEOUT: "2 seconds" },
      // A path prefix per daemon: the fake tells the callers apart.
      envOf: (i) => ({ TELEGRAM_API_ROOT: `${bot.url}/d${i}` })
    })
  }, 60_000)
  afterAll(async () => {
    await chat?.dispose()
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  const polls = () => bot.callsOf("getUpdates").map((c) => ({ daemon: Number(/^d(\d+)$/.exec(c.prefix ?? "")?.[1] ?? -1), at: c.at }))
  /** The daemons that polled, in turn: [0, 1] when daemon 0 polled, then daemon 1. */
  const pollers = () => polls().reduce<Array<number>>((runs, p) => (runs.at(-1) === p.daemon ? runs : [...runs, p.daemon]), [])
  const telegramState = async (d: ClusterDaemon) => (await d.json("/status")).body.channels?.telegram?.state

  it("50 chats: every update gets exactly one reply; one daemon polls at a time and never a 409, across kill -9 of the poller", async () => {
    const { cluster, model } = chat
    // Settled: one daemon polls (the one that owns the singleton's shard), the other stands by.
    const first = await eventually(async () => {
      const recent = polls().filter((p) => p.at > Date.now() - 3000)
      if (recent.length === 0 || new Set(recent.map((p) => p.daemon)).size > 1) return undefined
      const states = await Promise.all(cluster.daemons.map(telegramState))
      return states[recent[0]!.daemon] === "up" && states[1 - recent[0]!.daemon] === "standby" ? recent[0]!.daemon : undefined
    }, 30_000, 100)
    const victim = cluster.daemons[first]!
    const survivor = cluster.daemons[1 - first]!

    const sent: Array<{ chat: number; text: string }> = []
    const wave = (k: number) => {
      for (const chat of CHATS) {
        bot.push(textUpdate(chat, `t${chat}#${k}`))
        sent.push({ chat, text: `t${chat}#${k}` })
      }
    }
    // A first wave; the poller is killed while its turns run; a second wave during the stall, a
    // third once the survivor polls.
    wave(1)
    await model.until("turns running", (ts) => ts.filter((t) => t.endedAt === undefined).length >= 3 && ts.some((t) => t.endedAt !== undefined))
    const killedAt = Date.now()
    await victim.kill9()
    wave(2)
    const resumed = await eventually(async () => polls().find((p) => p.daemon === survivor.index && p.at > killedAt), 30_000, 100)
    wave(3)

    const answered = () => sent.every(({ chat, text }) => bot.texts(chat).includes(`reply to ${text}`))
    await eventually(async () => (answered() ? true : undefined), 60_000, 100).catch((e) => {
      const missing = sent.filter(({ chat, text }) => !bot.texts(chat).includes(`reply to ${text}`)).map((m) => m.text)
      throw new Error(`${e}: no reply to ${missing.join(", ")}\n${cluster.logs()}`)
    })
    for (const c of CHATS) {
      expect(bot.texts(c), `chat ${c}`).toEqual(sent.filter((s) => s.chat === c).map((s) => `reply to ${s.text}`))
    }
    expect(bot.conflicts(), "409 Conflict: two getUpdates overlapped").toBe(0)
    expect(bot.maxPollsInFlight()).toBe(1)
    expect(pollers().slice(-2)).toEqual([victim.index, survivor.index])
    expect(resumed.at - killedAt, "the survivor polled before the victim's lock could expire").toBeGreaterThan(LOCK_MS / 2)
    expect(await telegramState(survivor)).toBe("up")
    console.log(`telegram on a cluster: polling resumed ${resumed.at - killedAt} ms after kill -9 of the poller ` +
      `(lock ${LOCK_MS} ms); pollers in turn ${JSON.stringify(pollers())}`)
  }, 90_000)
})
