// The dashboard in a real browser (Debian's Chromium through playwright-core) against the BUILT
// daemon, with a fake model (slow turns), a fake Telegram Bot API (made to fail) and a pushed
// check. Every run writes its screenshots to docs/screenshots/ (not tracked: a test run must not
// change tracked files); the README's pictures in docs/ are copies of one such run.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Browser, launchBrowser } from "../../support/browser.ts"
import { type Daemon, ROOT, startDaemon } from "../../support/daemon.ts"
import { FAKE_TOKEN, type FakeBotApi, fakeBotApi } from "../../support/fakeBotApi.ts"
import { type FakeChatCompletions, startFakeChatCompletions } from "../../support/fakeChatCompletions.ts"

const TOKEN = "browser-test-token"
const SHOTS = join(ROOT, "docs", "screenshots")

describe("the dashboard in a browser", () => {
  let daemon: Daemon
  let model: FakeChatCompletions
  let bot: FakeBotApi
  let browser: Browser
  let page: Page
  const scope = Effect.runSync(Scope.make())
  const dir = mkdtempSync(join(tmpdir(), "switchboard-browser-"))

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true })
    model = await startFakeChatCompletions()
    // What the turn says decides how long the model takes: "slow" 2.5 s, "stall" until stopped.
    model.setDefault((request) => {
      const last = String(request.messages.at(-1)?.content ?? "")
      if (last.includes("stall")) return { text: "never sent", delayMs: 120_000 }
      if (last.includes("slow")) return { text: "done slowly", delayMs: 2500 }
      return { text: "ok" }
    })
    bot = await Effect.runPromise(Scope.provide(scope)(fakeBotApi))
    const checks = join(dir, "checks.json")
    writeFileSync(checks, JSON.stringify({ checks: [{ name: "deploy", kind: "push", expectEvery: "1 hour" }] }))
    daemon = await startDaemon({
      token: TOKEN,
      env: {
        SWITCHBOARD_MODEL_PROVIDER: "openai",
        OPENAI_BASE_URL: model.url,
        SWITCHBOARD_MODEL: "test-model",
        TELEGRAM_BOT_TOKEN: FAKE_TOKEN,
        TELEGRAM_API_ROOT: bot.url,
        TELEGRAM_ALLOWED_CHAT_IDS: "111",
        TELEGRAM_POLL_TIMEOUT: "1 second",
        SWITCHBOARD_CHECKS_FILE: checks,
        SWITCHBOARD_ALERT_TARGET: "http:alerts",
        SWITCHBOARD_JAEGER_URL: "http://127.0.0.1:16686"
      }
    })
    browser = await launchBrowser()
    page = await browser.context.newPage()
  })

  afterAll(async () => {
    await browser?.close()
    await daemon?.stop()
    await model?.close()
    await Effect.runPromise(Scope.close(scope, Exit.void))
    rmSync(dir, { recursive: true, force: true })
  })

  const post = (text: string, source: string) => daemon.post<{ id: string }>("/v1/messages", { text, source })
  const textOf = (selector: string) => page.locator(selector).first().textContent()

  it("without the token (none, or a wrong one) there is the login form and nothing else", async () => {
    await post("hello", "http:first")
    await page.goto(`${daemon.url}/`)
    await page.waitForSelector("#login-form", { state: "visible" })
    expect(await page.locator("#main").isHidden()).toBe(true)
    expect(await page.locator("#deliveries tr").count()).toBe(0)
    const statuses = await page.evaluate(async () =>
      Promise.all(["v1/events", "status", "ui/api/session"].map((p) => fetch(p).then((r) => r.status))))
    expect(statuses).toEqual([401, 401, 401])
    await page.fill("#token", "not-the-token")
    await page.press("#token", "Enter")
    await page.waitForFunction(() => document.getElementById("login-error")?.textContent === "That token was not accepted.")
    expect(await page.locator("#main").isHidden()).toBe(true)
    expect(await page.locator("#health li").count()).toBe(0)
  })

  it("logs in with the token and shows the daemon live (health, channels, the earlier delivery)", async () => {
    await page.fill("#token", TOKEN)
    await page.click("button[type=submit]")
    await page.waitForSelector("#main", { state: "visible" })
    await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live")
    await page.waitForSelector(`#deliveries tr[data-target="http:first"]`)
    await page.waitForSelector(`#channel-telegram[data-state="up"]`, { timeout: 10_000 })
    expect(await page.locator("#health li").count()).toBeGreaterThan(0)
    await page.waitForSelector(`#sessions li[data-session]`)
    // The cookie is the daemon's, out of the page's reach.
    expect(await page.evaluate(() => document.cookie)).toBe("")
    const cookies = await browser.context.cookies()
    expect(cookies.find((c) => c.name === "sb_session")).toMatchObject({ httpOnly: true, sameSite: "Strict" })
    await page.screenshot({ path: join(SHOTS, "dashboard-idle.png"), fullPage: true })
  })

  it("a message sent over HTTP shows as the active turn, then in the deliveries, without a reload", async () => {
    await page.evaluate(() => Object.assign(window, { sameDocument: true }))
    const slow = await post("a slow question", "http:browser")
    await post("queued behind it", "http:phone")
    await post("and another", "http:laptop")
    await page.waitForFunction(() => document.getElementById("active-source")?.textContent === "http:browser", null, { timeout: 5000 })
    expect(await textOf("#active")).toContain(slow.body.id)
    expect(await page.locator("#active a[href^='http://127.0.0.1:16686/search']").count()).toBe(1)
    await page.waitForFunction(() => document.getElementById("queue-depth")?.textContent === "2 waiting", null, { timeout: 3000 })
    await page.screenshot({ path: join(SHOTS, "dashboard-busy.png"), fullPage: true })
    await page.waitForSelector(`#deliveries tr[data-target="http:browser"] .badge.delivered`, { timeout: 10_000 })
    await page.waitForSelector(`#deliveries tr[data-target="http:laptop"]`, { timeout: 10_000 })
    await page.waitForSelector("#active-idle")
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true)
  })

  it("Stop stops a slow turn (with the keyboard)", async () => {
    const stalled = await post("stall here", "http:stopper")
    await page.waitForFunction(() => document.getElementById("active-source")?.textContent === "http:stopper", null, { timeout: 5000 })
    await page.focus("#stop")
    await page.keyboard.press("Enter")
    await page.waitForSelector("#active-idle", { timeout: 5000 })
    const record = await daemon.json(`/v1/messages/${stalled.body.id}?wait=5`)
    expect(record.body).toMatchObject({ status: "failed", error: "Stopped." })
  })

  it("a stop without the CSRF token is refused", async () => {
    const refused = await page.evaluate(async () => {
      const r = await fetch("ui/api/stop", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source: "http:stopper" }) })
      return { status: r.status, body: await r.json() }
    })
    expect(refused).toMatchObject({ status: 403, body: { error: { code: "csrf" } } })
  })

  it("a check going down and coming back shows both", async () => {
    await daemon.post("/v1/checks/deploy", { status: "fail", detail: "deploy 42 broke" })
    await page.waitForSelector(`#check-deploy[data-state="failing"]`, { timeout: 5000 })
    expect(await textOf("#check-deploy")).toContain("deploy 42 broke")
    await daemon.post("/v1/checks/deploy", { status: "ok", detail: "deploy 43 is fine" })
    await page.waitForSelector(`#check-deploy[data-state="ok"]`, { timeout: 5000 })
    expect(await textOf("#check-deploy")).toContain("deploy 43 is fine")
  })

  it("a failing channel turns its card red within seconds", async () => {
    bot.fail("getUpdates", { code: 502, description: "Bad Gateway" }, { times: 1000 })
    await page.waitForSelector(`#channel-telegram.is-failing[data-state="failing"]`, { timeout: 10_000 })
    expect(await textOf("#channel-telegram")).toContain("Bad Gateway")
    const border = await page.locator("#channel-telegram").evaluate((el) => getComputedStyle(el).borderTopColor)
    const [r, g, b] = border.match(/\d+/g)!.map(Number)
    expect(r).toBeGreaterThan(150)
    expect(g! + b!).toBeLessThan(r!)
    await page.screenshot({ path: join(SHOTS, "dashboard-failing-channel.png"), fullPage: true })
  })

  it("works on a 390 px phone screen and from the keyboard", async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    // A fresh load: the session cookie still opens it.
    await page.goto(`${daemon.url}/`)
    await page.waitForFunction(() => document.getElementById("conn")?.textContent === "live")
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    const box = await page.locator("#card-active").boundingBox()
    expect(box!.width).toBeLessThanOrEqual(390)
    await page.screenshot({ path: join(SHOTS, "dashboard-phone.png") })
    await page.keyboard.press("Tab")
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to the dashboard")
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  })

  it("follows the system's dark mode", async () => {
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    await page.emulateMedia({ colorScheme: "light" })
    const light = (await background()).match(/\d+/g)!.map(Number)
    await page.emulateMedia({ colorScheme: "dark" })
    const dark = (await background()).match(/\d+/g)!.map(Number)
    expect(light.slice(0, 3).every((c) => c > 200)).toBe(true)
    expect(dark.slice(0, 3).every((c) => c < 40)).toBe(true)
    await page.screenshot({ path: join(SHOTS, "dashboard-dark-phone.png") })
  })
})
