// `npm run build`: bundle the daemon and the CLI into dist/ with esbuild. Bundling tree-shakes
// Effect's barrels: about half the memory and start-up time of loading the unbundled modules.
// Type-checking is `npm run typecheck` (part of `npm test`).
import { build } from "esbuild"
import { cpSync, rmSync } from "node:fs"

rmSync("dist", { recursive: true, force: true })
await build({
  entryPoints: { daemon: "src/main.ts", "cli/main": "src/cli/main.ts" },
  outdir: "dist",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  sourcemap: true,
  sourcesContent: false,
  logLevel: "warning",
  // Effect gains from bundling (its barrels load every module); the Discord packages are bundled for
  // the alias below. The rest stay in node_modules: there Node treats them as dependencies (e.g. no
  // punycode deprecation warning from grammY's fetch).
  external: ["grammy", "@grammyjs/*", "ioredis", "ws", "zlib-sync", "@slack/*"],
  // Discord's REST client in its fetch build: Node's own fetch instead of a second copy of undici
  // (about 14 MB of an idle daemon with Discord on). Bundled, so that it can be aliased.
  alias: { "@discordjs/rest": "./node_modules/@discordjs/rest/dist/web.mjs" },
  // Bundled CommonJS dependencies (grammY, ioredis) still call require().
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" }
})

// dist/main.js checks the Node version before it loads dist/daemon.js (see src/entry.ts).
await build({ entryPoints: { main: "src/entry.ts" }, outdir: "dist", bundle: false, platform: "node", format: "esm", target: "node20", logLevel: "warning" })

// The dashboard's plain files, served from dist/ui/ (see src/channels/http/dashboardRoutes.ts).
cpSync("src/channels/http/ui", "dist/ui", { recursive: true })
