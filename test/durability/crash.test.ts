// Invariant 7 on the BUILT daemon as a process: 10 messages queued behind a slow model on a
// channel, SIGKILL in the middle of a turn, a restart on the same state dir: every message is
// answered, each exactly once as its channel sees it (HTTP: the inbox; Telegram: sendMessage calls;
// the Redis bus: switchboard:outbound), on both SWITCHBOARD_DURABILITY settings.
import { closeSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Effect, Exit, Scope } from "effect"
import { eventually, runDaemonToExit } from "../support/daemon.ts"
import { inboxOf } from "../support/daemonDriver.ts"
import { fakeBotApi, textUpdate } from "../support/fakeBotApi.ts"
import { counts, type CrashRig, crashRig, eachOnce, marker, type SlowModel, slowModel } from "../support/crashHarness.ts"
import { connectBus, redisUrl } from "../support/redis.ts"
import { tornWalBytes } from "../../src/store/walCheck.ts"

const MESSAGES = 10
const TURN_MS = 300

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

const rigFor = async (env: Record<string, string>): Promise<{ rig: CrashRig; model: SlowModel }> => {
  const model = await slowModel(TURN_MS)
  const rig = await crashRig(model, env)
  cleanup.push(() => rig.close())
  return { rig, model }
}

/** Kill while the third turn runs: two answered before the crash, one cut off, seven waiting. */
const killMidTurn = async (rig: CrashRig, model: SlowModel) => {
  await model.asked(3)
  await rig.kill()
  model.delayMs = 20
}

/** The fake Bot API for the test's duration (it outlives both daemons, as Telegram does). */
const botApi = async () => {
  const scope = await Effect.runPromise(Scope.make())
  cleanup.push(() => Effect.runPromise(Scope.close(scope, Exit.void)))
  return Effect.runPromise(Scope.provide(scope)(fakeBotApi))
}

const DB: Record<string, number> = { process: 11, power: 12 }

for (const durability of ["process", "power"] as const) {
  describe(`kill -9 mid-turn with SWITCHBOARD_DURABILITY=${durability}`, () => {
    it("HTTP: every accepted message is answered once in the inbox after the restart", async () => {
      const { rig, model } = await rigFor({ SWITCHBOARD_DURABILITY: durability })
      for (let i = 0; i < MESSAGES; i++) {
        const posted = await rig.current.post("/v1/messages", { text: `please answer ${marker(i)}`, source: "http:crash", id: `k${i}` })
        expect(posted.status).toBe(202)
      }
      await killMidTurn(rig, model)
      const seenBefore = model.askedAbout().slice(0, 2)
      const after = await rig.restart()
      // The ones still waiting are found under their ids, and answered.
      for (let i = 2; i < MESSAGES; i++) {
        const record = await eventually(async () => {
          const r = await after.json(`/v1/messages/${encodeURIComponent(`http:crash~k${i}`)}?wait=5`)
          return r.body?.status === "done" ? r.body : undefined
        }, 30_000)
        expect(record.reply).toBe(`re: ${marker(i)}`)
      }
      const inbox = (await inboxOf(after, "http:crash")).filter((m) => m.kind === "reply").map((m) => m.text)
      // The two answered before the crash were delivered to the old inbox: not again.
      expect(counts(inbox)).toEqual(Object.fromEntries(Object.entries(eachOnce(MESSAGES)).slice(2)))
      expect(seenBefore).toEqual([marker(0), marker(1)])
      // The turn that was running runs again; nothing else is asked twice.
      expect(counts(model.askedAbout())).toEqual({ ...Object.fromEntries(Array.from({ length: MESSAGES }, (_, i) => [marker(i), 1])), [marker(2)]: 2 })
    })

    it("Telegram: every update is answered once in the chat after the restart", async () => {
      const api = await botApi()
      const { rig, model } = await rigFor({
        SWITCHBOARD_DURABILITY: durability,
        TELEGRAM_BOT_TOKEN: api.token,
        TELEGRAM_API_ROOT: api.url,
        TELEGRAM_ALLOWED_CHAT_IDS: "111",
        TELEGRAM_POLL_TIMEOUT: "1 second"
      })
      api.push(...Array.from({ length: MESSAGES }, (_, i) => textUpdate(111, `please answer ${marker(i)}`)))
      await killMidTurn(rig, model)
      await rig.restart()
      await eventually(async () => (api.texts(111).length >= MESSAGES ? true : undefined), 30_000)
      // A moment for a duplicate to show, if one were coming.
      await eventually(async () => ((await rig.current.json("/status")).body.queue.depth === 0 ? true : undefined))
      expect(counts(api.texts(111))).toEqual(eachOnce(MESSAGES))
    })

    it("Redis bus: every entry is answered once on switchboard:outbound after the restart", async () => {
      const url = redisUrl(DB[durability]!)
      const bus = await connectBus(url)
      cleanup.push(() => bus.close())
      const { rig, model } = await rigFor({ SWITCHBOARD_DURABILITY: durability, REDIS_URL: url })
      await eventually(async () => ((await rig.current.json("/health")).body.checks.redis?.status === "pass" ? true : undefined))
      for (let i = 0; i < MESSAGES; i++) {
        await bus.publish({ type: "message", source: "redis:crash", text: `please answer ${marker(i)}`, id: `e${i}` })
      }
      await killMidTurn(rig, model)
      await rig.restart()
      await eventually(async () => ((await bus.outbound()).length >= MESSAGES ? true : undefined), 30_000)
      await eventually(async () => ((await rig.current.json("/status")).body.queue.depth === 0 ? true : undefined))
      const replies = (await bus.outbound()).filter((e) => e.fields["kind"] === "reply")
      expect(counts(replies.map((e) => e.fields["text"]!))).toEqual(eachOnce(MESSAGES))
      expect(new Set(replies.map((e) => e.fields["requestId"])).size).toBe(MESSAGES)
      // Nothing is left pending in the group: every entry was acknowledged once kept.
      const pending = (await bus.redis.xpending("switchboard:inbound", "switchboard")) as [number, ...Array<unknown>]
      expect(pending[0]).toBe(0)
    })
  })
}

describe("system events across a crash", () => {
  // System events lived in memory: an exec completion enqueued while a turn ran was gone after a
  // crash, and its chat never heard of it.
  it("a system event waiting behind a running turn at the kill -9 is relayed to its own chat once after the restart", async () => {
    const { rig, model } = await rigFor({})
    expect((await rig.current.post("/v1/messages", { text: `please answer ${marker(0)}`, source: "http:events", id: "m0" })).status).toBe(202)
    await model.asked(1)
    const event = await rig.current.post("/v1/system-events", { sessionKey: "http:events", text: `the build finished (${marker(77)})` })
    expect(event.status).toBe(202)
    const other = await rig.current.post("/v1/system-events", { sessionKey: "http:elsewhere", text: `deploy done (${marker(78)})` })
    expect(other.status).toBe(202)
    await rig.kill()
    model.delayMs = 20
    const after = await rig.restart()
    const relayed = await eventually(async () => {
      const found = (await inboxOf(after, "http:events", 0, 2)).filter((m) => m.kind === "relay")
      return found.length > 0 ? found : undefined
    }, 30_000)
    await eventually(async () => ((await after.json("/status")).body.queue.depth === 0 && (await after.json("/status")).body.active === null ? true : undefined))
    expect(relayed.map((m) => m.text)).toEqual([`re: ${marker(77)}`])
    expect((await inboxOf(after, "http:events")).filter((m) => m.kind === "relay").map((m) => m.text)).toEqual([`re: ${marker(77)}`])
    // Each event reached its own chat only.
    const elsewhere = await eventually(async () => {
      const found = (await inboxOf(after, "http:elsewhere", 0, 2)).filter((m) => m.kind === "relay").map((m) => m.text)
      return found.length > 0 ? found : undefined
    }, 30_000)
    expect(elsewhere).toEqual([`re: ${marker(78)}`])
  })
})

describe("the outbox across a crash", () => {
  it("a reply to a channel that was unreachable is delivered once after a kill -9 and restart", async () => {
    const api = await botApi()
    const state = { down: true }
    api.fail("sendMessage", { code: 502, description: "Bad Gateway" }, { times: 1_000_000, when: () => state.down })
    const { rig } = await rigFor({
      TELEGRAM_BOT_TOKEN: api.token,
      TELEGRAM_API_ROOT: api.url,
      TELEGRAM_ALLOWED_CHAT_IDS: "111",
      TELEGRAM_POLL_TIMEOUT: "1 second"
    })
    api.push(textUpdate(111, `please answer ${marker(7)}`))
    await eventually(async () => ((await rig.current.json("/status")).body.outbox?.waiting > 0 || undefined), 20_000)
    await rig.kill()
    // The fake records refused sends too: what Telegram showed is what came after it was back.
    const refused = api.texts(111).length
    state.down = false
    await rig.restart()
    await eventually(async () => (api.texts(111).length > refused ? true : undefined), 30_000)
    await eventually(async () => ((await rig.current.json("/status")).body.outbox?.waiting === 0 || undefined), 20_000)
    expect(api.texts(111).slice(refused)).toEqual([`re: ${marker(7)}`])
  })
})

describe("a torn database write", () => {
  /** Ten messages accepted behind a slow model, then SIGKILL: the store holds them (in its WAL). */
  const acceptedThenKilled = async () => {
    const { rig, model } = await rigFor({})
    for (let i = 0; i < MESSAGES; i++) {
      expect((await rig.current.post("/v1/messages", { text: `please answer ${marker(i)}`, source: "http:torn", id: `t${i}` })).status).toBe(202)
    }
    await killMidTurn(rig, model)
    return { rig, model }
  }

  /** What the restarted daemon says about each of the ten: done with its own reply, or unknown. */
  const outcomes = async (rig: CrashRig) => {
    const out: Array<string> = []
    for (let i = 0; i < MESSAGES; i++) {
      const r = await rig.current.json(`/v1/messages/${encodeURIComponent(`http:torn~t${i}`)}?wait=10`)
      out.push(r.status === 404 ? "unknown" : r.body.status === "done" && r.body.reply === `re: ${marker(i)}` ? "answered" : JSON.stringify(r.body))
    }
    return out
  }

  // SQLite drops a torn WAL frame and every commit after it without a word: messages accepted just
  // before the crash were gone (or answered twice) and nothing said so.
  it("a WAL cut inside a frame: the start recovers, says the log ended in a torn write, and answers what it kept", async () => {
    const { rig } = await acceptedThenKilled()
    const wal = join(rig.stateDir, "switchboard.db-wal")
    expect(tornWalBytes(wal), "a kill -9 leaves whole frames").toBe(0)
    const pageSize = readFileSync(wal).readUInt32BE(8)
    const frames = Math.floor((statSync(wal).size - 32) / (24 + pageSize))
    truncateSync(wal, 32 + Math.floor(frames / 2) * (24 + pageSize) + 100)
    await rig.restart()
    expect(rig.current.lines.some((l) => l.includes("write-ahead log ends in a torn write (100 bytes"))).toBe(true)
    const after = await outcomes(rig)
    expect(after.every((o) => o === "answered" || o === "unknown"), after.join(", ")).toBe(true)
    expect((await rig.current.json("/health")).body.status).toBe("pass")
  })

  it("a database file cut short while its WAL holds the commits: the start recovers everything that was waiting", async () => {
    const { rig } = await acceptedThenKilled()
    const db = join(rig.stateDir, "switchboard.db")
    truncateSync(db, Math.floor(statSync(db).size / 2))
    await rig.restart()
    // The two answered before the crash are still found with their replies (finished requests are
    // kept in the store), the other eight are answered now.
    expect(await outcomes(rig)).toEqual(Array(MESSAGES).fill("answered"))
  })

  it("a database file whose header is overwritten: the start refuses with one line (exit 2) and leaves the file", async () => {
    const { rig } = await acceptedThenKilled()
    const db = join(rig.stateDir, "switchboard.db")
    rmSync(`${db}-wal`, { force: true })
    rmSync(`${db}-shm`, { force: true })
    const fd = openSync(db, "r+")
    writeSync(fd, Buffer.from("this is not sqlite"), 0, 18, 0)
    closeSync(fd)
    const before = readFileSync(db)
    const run = await runDaemonToExit({ ...rig.env, SWITCHBOARD_STATE_DIR: rig.stateDir })
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split("\n")).toEqual([expect.stringContaining(`the store ${db} cannot be used`)])
    expect(readFileSync(db).equals(before)).toBe(true)
  })
})
