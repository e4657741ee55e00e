// A flood on the built daemon: 3,000 posts of 60 KB (from 30 clients) keep its resident memory under
// the ceiling the README documents ("Memory"), because what the daemon keeps of them is bounded in
// bytes. It runs with the V8 heap cap the systemd unit sets (NODE_OPTIONS=--max-old-space-size=256):
// without a cap V8 keeps freed heap up to its own default limit. Kept by count (the request log's
// 10,000 records, 1,000 messages per inbox), the same flood peaks near 410 MB under that cap.
import { readFileSync, rmSync } from "node:fs"
import { afterAll, assert, describe, it } from "vitest"
import { type Daemon, startDaemon } from "../../support/daemon.ts"

const CEILING_MB = 370
const POSTS = 3000
const CLIENTS = 30
const TEXT = "x".repeat(60 * 1024)

const rssMb = (pid: number) => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024

let daemon: Daemon | undefined
afterAll(async () => {
  if (daemon) {
    await daemon.stop()
    rmSync(daemon.stateDir, { recursive: true, force: true })
  }
})

describe("a flood of large posts", () => {
  it(`${POSTS} posts of 60 KB keep RSS under ${CEILING_MB} MB, every one answered, the drops counted`, async () => {
    daemon = await startDaemon({ env: { SWITCHBOARD_LOG_LEVEL: "Warn", NODE_OPTIONS: "--max-old-space-size=256" } })
    const d = daemon
    const pid = d.process.pid!
    const samples: Array<number> = [rssMb(pid)]
    const sampler = setInterval(() => samples.push(rssMb(pid)), 100)
    let answered = 0
    try {
      // Each client posts its share one after another, reading each reply: 30 at a time.
      await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; i < POSTS / CLIENTS; i++) {
          const posted = await d.post<{ id: string }>("/v1/messages", { text: TEXT, source: `http:flood-${c}`, id: `m${i}` })
          assert.strictEqual(posted.status, 202, JSON.stringify(posted.body))
          const done = await d.json<{ status: string; reply: string }>(`/v1/messages/${posted.body.id}?wait=30`)
          assert.strictEqual(done.body.status, "done")
          answered++
        }
      }))
    } finally {
      clearInterval(sampler)
    }
    samples.push(rssMb(pid))
    const peak = Math.max(...samples)
    assert.strictEqual(answered, POSTS)
    assert.isBelow(peak, CEILING_MB, `peak RSS ${peak.toFixed(0)} MB (started at ${samples[0]!.toFixed(0)} MB)`)
    // What it kept is bounded: the request log and the inboxes dropped their oldest, and say so.
    const metrics = await (await d.fetch("/metrics")).text()
    assert.match(metrics, /switchboard_memory_dropped_total\{[^}]*store="request_log"[^}]*\} [1-9]/)
    assert.match(metrics, /switchboard_memory_dropped_total\{[^}]*store="inbox"[^}]*\} [1-9]/)
  }, 240_000)
})
