// A /status document as a few lines a person can read (CLI `status`, `/status` in a chat).
const num = (v: unknown): number => (typeof v === "number" ? v : 0)
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {}

const ago = (ms: number): string =>
  ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`

/** The Redis bus on one line: up or since when not, and how far behind it is. */
const redisLine = (r: Record<string, unknown>): string => {
  const figures = `lag ${String(r["lag"] ?? "?")}, pending ${String(r["pending"] ?? "?")}, ${num(r["deadLettered"])} dead-lettered`
  return r["state"] === "up"
    ? `redis     up as ${String(r["consumer"])} on ${String(r["server"])}; ${figures}`
    : `redis     ${String(r["state"])} since ${String(r["since"])}${r["lastError"] ? ` (${String(r["lastError"])})` : ""}; ${figures}`
}

/** With more than the one session (an agents file): how many, running and queued. */
const sessionsLine = (v: unknown): ReadonlyArray<string> => {
  const sessions = Array.isArray(v) ? v.map(obj) : []
  if (sessions.length <= 1) return []
  const running = sessions.filter((s) => s["active"] !== null && s["active"] !== undefined).length
  const queued = sessions.reduce((n, s) => n + num(s["queued"]), 0)
  return [`sessions  ${sessions.length} (${running} running, ${queued} queued; switchboard sessions lists them)`]
}

export const formatStatus = (doc: Record<string, unknown>): string => {
  const queue = obj(doc["queue"])
  const by = obj(queue["byPriority"])
  const active = doc["active"] === null ? undefined : obj(doc["active"])
  const heartbeat = doc["heartbeat"] === null || doc["heartbeat"] === undefined ? undefined : obj(doc["heartbeat"])
  const counters = obj(doc["counters"])
  const outbox = obj(doc["outbox"])
  const session = obj(doc["session"])
  const channels = Object.entries(obj(doc["channels"])).map(([name, c]) => `${name} (${String(obj(c)["state"] ?? "?")})`)
  const lines = [
    `queue     ${num(queue["depth"])} waiting (command ${num(by["command"])}, human ${num(by["human"])}, relay ${
      num(by["relay"])
    }, event ${num(by["event"])}); cap ${num(queue["cap"])}`,
    active
      ? `active    ${String(active["id"])} from ${String(active["source"])}, running ${ago(num(active["ageMs"]))}`
      : "active    idle",
    `session   ${String(session["provider"] ?? "?")} / ${String(session["model"] ?? "?")}`,
    ...sessionsLine(doc["sessions"]),
    `turns     ${num(counters["turns"])} (failed ${num(counters["failed"])}, aborted ${num(counters["aborted"])}, timed out ${
      num(counters["timedOut"])
    })`,
    `delivery  ${num(counters["delivered"])} delivered, ${num(counters["deliveryFailures"])} failed${
      num(outbox["waiting"]) > 0 ? `, ${num(outbox["waiting"])} waiting in the outbox since ${String(outbox["oldestSince"])}` : ""
    }`,
    heartbeat
      ? `heartbeat last tick ${String(heartbeat["lastTickAt"] ?? "never")}, ${num(heartbeat["ticks"])} ticks`
      : "heartbeat off",
    `channels  ${channels.join(", ") || "none"}`,
    ...(doc["redis"] === undefined ? [] : [redisLine(obj(doc["redis"]))]),
    `uptime    ${ago(num(doc["uptimeSeconds"]) * 1000)}`
  ]
  return lines.join("\n")
}
