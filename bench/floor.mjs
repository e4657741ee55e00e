// The floor for `npm run bench -- real`: the smallest node:http server of switchboard's HTTP
// contract (POST /v1/messages → 202 { id }, GET /v1/messages/:id?wait=<s> long-polls until the
// serial "session" answered, GET /health). No framework, no logging, no queue beyond an array:
// what any daemon of this contract costs on this machine. Plain JavaScript, so Node starts it
// as fast as it can. Writes `{ pid, url }` to <SWITCHBOARD_STATE_DIR>/daemon.json like the daemon.
import { randomUUID } from "node:crypto"
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { join } from "node:path"

const requests = new Map() // id → { id, source, text, status, reply?, waiters }
const queue = []
let running = false

const json = (res, status, body) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const view = (r) => ({ id: r.id, source: r.source, status: r.status, ...(r.reply !== undefined ? { reply: r.reply } : {}) })

// One request at a time, like the daemon's serial session.
const drain = () => {
  if (running) return
  running = true
  setImmediate(function next() {
    const r = queue.shift()
    if (r === undefined) {
      running = false
      return
    }
    r.status = "done"
    r.reply = `echo: ${r.text}`
    for (const w of r.waiters.splice(0)) w()
    setImmediate(next)
  })
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x")
  if (req.method === "GET" && url.pathname === "/health") return json(res, 200, { status: "pass", checks: {} })
  if (req.method === "POST" && url.pathname === "/v1/messages") {
    const chunks = []
    req.on("data", (c) => chunks.push(c))
    req.on("end", () => {
      let body
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
      } catch {
        return json(res, 400, { error: { code: "invalid_json", message: "the body is not JSON" } })
      }
      if (typeof body?.text !== "string") return json(res, 400, { error: { code: "invalid_body", message: "text is required" } })
      const source = typeof body.source === "string" ? body.source : "http:default"
      const id = typeof body.id === "string" ? `${source}~${body.id}` : randomUUID()
      if (!requests.has(id)) {
        const r = { id, source, text: body.text, status: "queued", waiters: [] }
        requests.set(id, r)
        queue.push(r)
        drain()
      }
      json(res, 202, { id, status: "queued" })
    })
    return
  }
  const m = /^\/v1\/messages\/([^/]+)$/.exec(url.pathname)
  if (req.method === "GET" && m) {
    const r = requests.get(decodeURIComponent(m[1]))
    if (r === undefined) return json(res, 404, { error: { code: "not_found", message: "no such message" } })
    const wait = Math.min(60, Number(url.searchParams.get("wait") ?? 0)) * 1000
    if (r.status === "done" || !(wait > 0)) return json(res, 200, view(r))
    const timer = setTimeout(() => json(res, 200, view(r)), wait)
    r.waiters.push(() => {
      clearTimeout(timer)
      json(res, 200, view(r))
    })
    return
  }
  json(res, 404, { error: { code: "not_found", message: "no such route" } })
})

server.listen(Number(process.env.SWITCHBOARD_HTTP_PORT ?? 0), process.env.SWITCHBOARD_HTTP_HOST ?? "127.0.0.1", () => {
  const { address, port } = server.address()
  const url = `http://${address}:${port}`
  if (process.env.SWITCHBOARD_STATE_DIR) {
    writeFileSync(join(process.env.SWITCHBOARD_STATE_DIR, "daemon.json"), JSON.stringify({ pid: process.pid, url }) + "\n")
  }
  process.stdout.write(JSON.stringify({ message: `floor listening on ${url}`, url }) + "\n")
})
process.on("SIGTERM", () => process.exit(0))
