// Debian's Chromium driven by playwright-core (no browser download): headless, no sandbox (CI runs
// as root), an empty profile of its own. `npm test` needs /usr/bin/chromium (.ci/run installs it).
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium } from "playwright-core"

export const CHROMIUM = "/usr/bin/chromium"

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run"
]

export interface Browser {
  readonly context: BrowserContext
  readonly close: () => Promise<void>
}

export const launchBrowser = async (viewport = { width: 1280, height: 900 }): Promise<Browser> => {
  if (!existsSync(CHROMIUM)) throw new Error(`the browser tests need Debian's Chromium at ${CHROMIUM}: apt-get install -y chromium`)
  const profile = mkdtempSync(join(tmpdir(), "switchboard-chromium-"))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport
  })
  return {
    context,
    close: async () => {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
