// `node dist/main.js`: refuse an older Node with one clear line, before loading anything that
// needs Node 24 (node:sqlite, the bundle's own syntax), then load the daemon (dist/daemon.js).
// package.json has no `engines` on purpose: npm (on the machine's own, older Node) would warn on
// every `npx switchboard …` although npx then runs the project's Node 24.
import * as Module from "node:module"

const [major] = process.versions.node.split(".").map(Number)
if (major === undefined || major < 24) {
  process.stderr.write(
    `switchboard: needs Node 24 or newer, this is Node ${process.versions.node} (npm start and npx switchboard use the project's own Node 24)\n`
  )
  process.exit(2)
}
// V8's code cache on disk (Node's compile cache: the OS temp dir, or NODE_COMPILE_CACHE): a restart
// does not parse and compile the 3 MB bundle again, which was most of the time before listening.
Module.enableCompileCache?.()
// A name the bundler leaves alone: the daemon is a file of its own next to this one.
const daemon = "./daemon.js"
await import(daemon)
