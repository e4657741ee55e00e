// Every connection a client can open is bounded, on the BUILT daemon: a cap on connections (below
// the file descriptor limit), a cap on concurrent long-polls (503 too_many_waiters beyond), and
// timeouts for slow headers and slow bodies, so a flood of clients can neither stop /health and
// new messages from being answered nor make the tripwire's writes fail.
import { request as httpRequest } from "node:http"
import { connect } from "node:net"
import { readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type Daemon, eventually, MAIN, startDaemon, type StartOptions } from "../support/daemon.ts"

const cleanup: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

const daemon = async (options: StartOptions): Promise<Daemon> => {
  const d = await startDaemon(options)
  cleanup.push(async () => {
    await d.stop()
    rmSync(d.stateDir, { recursive: true, force: true })
  })
  return d
}

/** Start under `ulimit -n <n>`; `exec` makes the shell become the daemon. */
const withFdLimit = (n: number): NonNullable<StartOptions["command"]> => ({
  file: "/bin/sh",
  args: ["-c", `ulimit -n ${n} && exec "$0" "$@"`, process.execPath, MAIN]
})

type Outcome = { readonly status: number; readonly code?: string } | { readonly error: string } | "pending"

/** A GET on a connection of its own; its outcome is filled in when it ends. */
const openRequest = (url: string, path: string, outcomes: Array<Outcome>, i: number) => {
  outcomes[i] = "pending"
  const req = httpRequest(`${url}${path}`, { agent: false }, (res) => {
    let body = ""
    res.setEncoding("utf8")
    res.on("data", (c: string) => (body += c))
    res.on("end", () => {
      let code: string | undefined
      try {
        code = JSON.parse(body)?.error?.code
      } catch {
        // not JSON
      }
      outcomes[i] = { status: res.statusCode ?? 0, ...(code ? { code } : {}) }
    })
  })
  req.on("error", (e) => (outcomes[i] = { error: (e as NodeJS.ErrnoException).code ?? e.message }))
  req.end()
  return req
}

/** The tripwire's time ("" before the first tick). */
const tripwireAt = (d: Daemon) => {
  try {
    return readFileSync(join(d.stateDir, "tripwire"), "utf8").trim()
  } catch {
    return ""
  }
}

describe("connection limits", () => {
  it("400 long-polls under a 256 file-descriptor limit: the excess is refused, /health and POST still answer, the tripwire keeps ticking", async () => {
    const d = await daemon({
      command: withFdLimit(256),
      env: { SWITCHBOARD_HEARTBEAT_EVERY: "1 second", SWITCHBOARD_MAX_WAIT: "60 seconds" }
    })
    const outcomes: Array<Outcome> = []
    const requests = Array.from({ length: 400 }, (_, i) => openRequest(d.url, `/v1/inbox/http:flood${i % 7}?wait=60`, outcomes, i))
    cleanup.push(async () => requests.forEach((r) => r.destroy()))
    // Every request has either been answered, been refused, or is one of the waiters.
    await eventually(async () => (outcomes.filter((o) => o !== "pending").length >= 400 - 128 ? true : undefined), 20_000)
    const before = tripwireAt(d)

    const health = await fetch(`${d.url}/health`, { signal: AbortSignal.timeout(5000) })
    expect(health.status).toBe(200)
    const posted = await fetch(`${d.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "still here?", source: "http:me" }),
      signal: AbortSignal.timeout(5000)
    })
    expect(posted.status).toBe(202)
    await eventually(async () => (tripwireAt(d) !== before ? true : undefined), 10_000)

    const waiting = outcomes.filter((o) => o === "pending").length
    const refused = outcomes.filter((o) => typeof o === "object" && "code" in o && o.code === "too_many_waiters")
    expect(waiting).toBeLessThanOrEqual(128)
    expect(refused.length + outcomes.filter((o) => typeof o === "object" && "error" in o).length).toBeGreaterThan(0)
    expect(refused.every((o) => typeof o === "object" && "status" in o && o.status === 503)).toBe(true)
    const logs = d.lines.join("\n")
    expect(logs).not.toMatch(/EMFILE|too many open files/i)
    expect(logs).not.toMatch(/cannot write the tripwire/)
  }, 60_000)

  it("400 idle connections under a 256 file-descriptor limit: those beyond the cap are dropped, the tripwire keeps ticking, /health answers once they time out", async () => {
    const d = await daemon({
      command: withFdLimit(256),
      env: { SWITCHBOARD_HEARTBEAT_EVERY: "1 second", SWITCHBOARD_HTTP_HEADERS_TIMEOUT: "4 seconds" }
    })
    const { port } = new URL(d.url)
    const sockets = Array.from({ length: 400 }, () => {
      const socket = connect(Number(port), "127.0.0.1")
      socket.on("error", () => undefined)
      return socket
    })
    cleanup.push(async () => sockets.forEach((s) => s.destroy()))
    const first = tripwireAt(d)
    await eventually(async () => (tripwireAt(d) !== first ? tripwireAt(d) : undefined), 10_000)
    const second = tripwireAt(d)
    await eventually(async () => (tripwireAt(d) !== second ? true : undefined), 10_000)
    // The idle ones are cut at the headers timeout; then there is room again.
    const health = await eventually(async () => {
      try {
        const r = await fetch(`${d.url}/health`, { signal: AbortSignal.timeout(2000) })
        return r.status
      } catch {
        return undefined
      }
    }, 20_000)
    expect(health).toBe(200)
    const http = (await d.json("/status")).body.http
    expect(http.maxConnections).toBe(256 - 64)
    expect(http.dropped, JSON.stringify(http)).toBeGreaterThan(0)
    expect(d.lines.join("\n")).not.toMatch(/EMFILE|too many open files|cannot write the tripwire/i)
  }, 60_000)

  it("concurrent long-polls beyond SWITCHBOARD_HTTP_MAX_WAITERS get 503 too_many_waiters; a plain GET still answers", async () => {
    const d = await daemon({ env: { SWITCHBOARD_HTTP_MAX_WAITERS: "3" } })
    const outcomes: Array<Outcome> = []
    const requests = Array.from({ length: 3 }, (_, i) => openRequest(d.url, `/v1/inbox/http:w${i}?wait=30`, outcomes, i))
    cleanup.push(async () => requests.forEach((r) => r.destroy()))
    await eventually(async () => ((await d.json("/status")).body.http?.waiters === 3 ? true : undefined), 10_000)
    const fourth = await d.json(`/v1/messages/http:me~x?wait=30`)
    expect(fourth.status).toBe(503)
    expect(fourth.body.error.code).toBe("too_many_waiters")
    expect((await d.json("/v1/inbox/http:w0")).status).toBe(200) // no wait: not a waiter
    expect(outcomes.every((o) => o === "pending")).toBe(true)
  }, 30_000)

  it("a client that never finishes its headers is cut off after SWITCHBOARD_HTTP_HEADERS_TIMEOUT, a slow body after SWITCHBOARD_HTTP_REQUEST_TIMEOUT", async () => {
    const d = await daemon({
      token: "connection-limits-token-0123456789",
      env: { SWITCHBOARD_HTTP_HEADERS_TIMEOUT: "1 second", SWITCHBOARD_HTTP_REQUEST_TIMEOUT: "2 seconds" }
    })
    const { port } = new URL(d.url)
    const closedAfter = (send: string) =>
      new Promise<{ ms: number; data: string }>((resolve, reject) => {
        const started = Date.now()
        const socket = connect(Number(port), "127.0.0.1", () => socket.write(send))
        let data = ""
        socket.setEncoding("utf8")
        socket.on("data", (c: string) => (data += c))
        socket.on("close", () => resolve({ ms: Date.now() - started, data }))
        socket.on("error", () => undefined)
        setTimeout(() => {
          socket.destroy()
          reject(new Error(`still open after 20 s: ${data}`))
        }, 20_000)
      })
    const [headers, body, unauthorized] = await Promise.all([
      closedAfter("GET /health HTTP/1.1\r\nHost: x\r\n"),
      closedAfter(`POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer connection-limits-token-0123456789\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"text":`),
      closedAfter("POST /v1/messages HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{\"te")
    ])
    expect(headers.ms).toBeLessThan(10_000)
    expect(body.ms).toBeLessThan(10_000)
    // Without the token the answer is at once, and the connection is closed with it.
    expect(unauthorized.data).toMatch(/^HTTP\/1.1 401/)
    expect(unauthorized.ms).toBeLessThan(headers.ms + 1000)
  }, 30_000)
})
