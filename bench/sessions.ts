// Sessions (issue 14): 100 chats in `per-chat` scope on the built daemon, a model that takes 200 ms
// per turn (the fake chat-completions server), one message per chat posted at once — messages per
// second with 1 and with 4 turns at once (SWITCHBOARD_MAX_CONCURRENT_TURNS), and their ratio, in the
// same run.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Figures } from "./core.ts"
import { eventually, startDaemon } from "../test/support/daemon.ts"
import { startFakeChatCompletions } from "../test/support/fakeChatCompletions.ts"

const CHATS = 100
const TURN_MS = 200

const burst = async (concurrency: number, modelUrl: string, agentsFile: string) => {
  const daemon = await startDaemon({
    env: {
      SWITCHBOARD_MODEL_PROVIDER: "openai",
      OPENAI_BASE_URL: modelUrl,
      SWITCHBOARD_AGENTS_FILE: agentsFile,
      SWITCHBOARD_MAX_CONCURRENT_TURNS: String(concurrency),
      SWITCHBOARD_LOG_LEVEL: "Warn"
    }
  })
  try {
    const t0 = performance.now()
    const ids = await Promise.all(Array.from({ length: CHATS }, async (_, i) => {
      const r = await daemon.post<{ id: string }>("/v1/messages", { text: `hello ${i}`, source: `http:chat${i}` })
      if (r.status !== 202) throw new Error(`POST answered ${r.status}`)
      return r.body.id
    }))
    await Promise.all(ids.map((id) =>
      eventually(async () => {
        const r = await daemon.json<{ status: string }>(`/v1/messages/${encodeURIComponent(id)}?wait=30`)
        if (r.body.status === "failed") throw new Error(`${id} failed`)
        return r.body.status === "done" ? true : undefined
      }, 120_000)
    ))
    const seconds = (performance.now() - t0) / 1000
    return CHATS / seconds
  } finally {
    await daemon.stop()
    rmSync(daemon.stateDir, { recursive: true, force: true })
  }
}

export const runSessions = async (): Promise<Figures> => {
  const fake = await startFakeChatCompletions({ record: false })
  fake.setDefault({ text: "ok", delayMs: TURN_MS })
  const dir = mkdtempSync(join(tmpdir(), "switchboard-bench-sessions-"))
  const agentsFile = join(dir, "agents.json")
  writeFileSync(agentsFile, JSON.stringify({ agents: [{ name: "chat", scope: "per-chat", bindings: ["http:*"] }] }))
  try {
    const one = await burst(1, fake.url, agentsFile)
    const four = await burst(4, fake.url, agentsFile)
    return {
      [`messages/s, 1 turn at a time (${CHATS} chats, ${TURN_MS} ms per turn; ideal ${1000 / TURN_MS})`]: Number(one.toFixed(2)),
      [`messages/s, 4 turns at once (ideal ${(4 * 1000) / TURN_MS})`]: Number(four.toFixed(2)),
      "ratio 4 / 1 (ideal 4)": Number((four / one).toFixed(2))
    }
  } finally {
    await fake.close()
    rmSync(dir, { recursive: true, force: true })
  }
}
