// The built daemon as a process, driven through its contract: HTTP, the CLI, configuration
// errors, shutdown, traces.
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Daemon, eventually, runCli, runDaemonToExit, startDaemon } from "../support/daemon.ts"
import { startFakeOtlp } from "../support/fakeOtlp.ts"

describe("the daemon over HTTP and the CLI", () => {
  let daemon: Daemon
  beforeAll(async () => {
    daemon = await startDaemon()
  })
  afterAll(async () => {
    await daemon?.stop()
  })

  it("answers /health and echoes a message posted over HTTP", async () => {
    const health = await daemon.json("/health")
    expect(health).toMatchObject({ status: 200, body: { status: "pass" } })
    const posted = await daemon.post("/v1/messages", { text: "hello", source: "http:e2e" })
    expect(posted.status).toBe(202)
    const done = await daemon.json(`/v1/messages/${posted.body.id}?wait=10`)
    expect(done.body).toMatchObject({ status: "done", reply: "echo: hello" })
    const inbox = await daemon.json("/v1/inbox/http:e2e")
    expect(inbox.body.messages.map((m: any) => [m.kind, m.text])).toEqual([["reply", "echo: hello"]])
  })

  it("switchboard send prints the reply; status summarises the daemon", async () => {
    const env = { SWITCHBOARD_URL: daemon.url }
    const sent = await runCli(["send", "hello", "there"], env)
    expect(sent).toMatchObject({ code: 0, stdout: "echo: hello there\n" })
    const status = await runCli(["status"], env)
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/^queue\s+0 waiting/m)
    expect(status.stdout).toMatch(/^session\s+echo/m)
    const json = await runCli(["status", "--json"], env)
    expect(JSON.parse(json.stdout).queue.depth).toBe(0)
  })

  it("switchboard chat sends each line and prints the replies as they arrive", async () => {
    const chat = await runCli(["chat", "--as", "cli:tester"], { SWITCHBOARD_URL: daemon.url }, "first\nsecond\n")
    expect(chat.code).toBe(0)
    expect(chat.stdout).toBe("echo: first\necho: second\n")
  })

  it("the CLI exits 1 with one clear line when the daemon is unreachable", async () => {
    const r = await runCli(["send", "hi"], { SWITCHBOARD_URL: "http://127.0.0.1:9" })
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^switchboard: cannot reach switchboard at http:\/\/127\.0\.0\.1:9/)
    expect(r.stderr.trim().split("\n")).toHaveLength(1)
  })

  it("stops cleanly on SIGTERM with exit code 0, saying so in its log", async () => {
    const d = await startDaemon()
    expect(await d.stop("SIGTERM")).toBe(0)
    const messages = d.lines.map((l) => (JSON.parse(l) as { message: string }).message)
    expect(messages).toContain("stopping: no new work is taken")
    expect(messages.at(-1)).toBe("switchboard stopped")
  })
})

describe("the daemon with a token", () => {
  it("requires the bearer token from the CLI too", async () => {
    const daemon = await startDaemon({ token: "tok-123" })
    try {
      const denied = await runCli(["send", "hi"], { SWITCHBOARD_URL: daemon.url })
      expect(denied.code).toBe(1)
      expect(denied.stderr).toMatch(/401 unauthorized/)
      const allowed = await runCli(["send", "hi"], { SWITCHBOARD_URL: daemon.url, SWITCHBOARD_API_TOKEN: "tok-123" })
      expect(allowed).toMatchObject({ code: 0, stdout: "echo: hi\n" })
      expect(daemon.lines.join("\n")).not.toContain("tok-123")
    } finally {
      await daemon.stop()
    }
  })
})

describe("secrets stay secret", () => {
  it("a Telegram bot token never appears in logs, even when the Bot API cannot be reached", async () => {
    const token = "123456:secret-BOT-token"
    const daemon = await startDaemon({
      env: { TELEGRAM_BOT_TOKEN: token, TELEGRAM_API_ROOT: "http://127.0.0.1:9", TELEGRAM_POLL_TIMEOUT: "1 second" }
    })
    try {
      // Wait until the failing poll has been logged, then look at everything the daemon said.
      await eventually(async () => (daemon.lines.some((l) => l.includes("getUpdates failed")) ? true : undefined))
      const status = await daemon.json("/status")
      expect(JSON.stringify(status.body)).not.toContain(token)
    } finally {
      await daemon.stop()
    }
    expect(daemon.lines.join("\n") + daemon.stderr.join("")).not.toContain(token)
    expect(daemon.lines.join("\n")).toContain("bot<token>")
  })
})

describe("configuration errors stop the daemon with one clear line", () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ["a port that is not a number", { SWITCHBOARD_HTTP_PORT: "abc" }, /SWITCHBOARD_HTTP_PORT: .*\(got "abc"\)/],
    ["a duration it cannot read", { SWITCHBOARD_HEARTBEAT_EVERY: "soon" }, /SWITCHBOARD_HEARTBEAT_EVERY: .*Duration.*\(got "soon"\)/],
    ["an unknown provider", { SWITCHBOARD_MODEL_PROVIDER: "gpt" }, /SWITCHBOARD_MODEL_PROVIDER: Expected "echo" \| "openai"/],
    ["a public host without a token", { SWITCHBOARD_HTTP_HOST: "0.0.0.0" }, /SWITCHBOARD_API_TOKEN: required when SWITCHBOARD_HTTP_HOST \(0\.0\.0\.0\)/],
    ["a queue cap of zero", { SWITCHBOARD_QUEUE_CAP: "0" }, /SWITCHBOARD_QUEUE_CAP: .*positive whole number/],
    ["a heartbeat retry of zero", { SWITCHBOARD_HEARTBEAT_RETRY: "0 millis" }, /SWITCHBOARD_HEARTBEAT_RETRY: .*at least 10 millis/]
  ]
  for (const [what, env, message] of cases) {
    it(`refuses ${what}`, async () => {
      const r = await runDaemonToExit(env)
      expect(r.code).toBe(2)
      const lines = r.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(/^switchboard: invalid configuration: /)
      expect(lines[0]).toMatch(message)
    })
  }

  it("says so when the port is taken", async () => {
    const first = await startDaemon()
    try {
      const port = new URL(first.url).port
      const r = await runDaemonToExit({ SWITCHBOARD_HTTP_PORT: port })
      expect(r.code).toBe(2)
      expect(r.stderr.trim()).toMatch(/^switchboard: cannot start the HTTP API/)
    } finally {
      await first.stop()
    }
  })
})

describe("tracing", () => {
  it("exports one trace per request: inbound → queue.wait, dispatch → session.turn, router.deliver", async () => {
    const collector = await startFakeOtlp()
    const daemon = await startDaemon({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url } })
    // The idempotency key, scoped by the source, is the request id.
    const requestId = "http:tracer~trace-1"
    try {
      const posted = await daemon.post("/v1/messages", { text: "trace me", id: "trace-1", source: "http:tracer" })
      expect(posted.body.id).toBe(requestId)
      await daemon.json(`/v1/messages/${posted.body.id}?wait=10`)
    } finally {
      expect(await daemon.stop()).toBe(0) // shutdown flushes the exporter
      await collector.close()
    }
    const inbound = collector.spans.find((s) => s.name === "inbound" && s.attributes["switchboard.request_id"] === requestId)
    expect(inbound).toBeDefined()
    const trace = collector.spans.filter((s) => s.traceId === inbound!.traceId)
    const one = (name: string) => {
      const found = trace.filter((s) => s.name === name)
      expect(found, name).toHaveLength(1)
      return found[0]!
    }
    const dispatch = one("dispatch")
    const wait = one("queue.wait")
    const turn = one("session.turn")
    const deliver = one("router.deliver")
    expect(dispatch.parentSpanId).toBe(inbound!.spanId)
    expect(wait.parentSpanId).toBe(inbound!.spanId)
    expect(turn.parentSpanId).toBe(dispatch.spanId)
    expect(deliver.parentSpanId).toBe(dispatch.spanId)
    for (const span of [inbound!, dispatch, turn]) {
      expect(span.attributes).toMatchObject({
        "switchboard.source": "http:tracer",
        "switchboard.request_id": requestId,
        "switchboard.priority": "human"
      })
    }
    expect(deliver.attributes["switchboard.target"]).toBe("http:tracer")
  })
})
