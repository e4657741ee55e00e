#!/usr/bin/env node
// The `switchboard` CLI. Needs Node >= 24 (npx and npm scripts use the project's own Node 24).
const [major] = process.versions.node.split(".").map(Number)
if (major < 24) {
  process.stderr.write(`switchboard: Node ${process.versions.node} is too old; run it with npx switchboard (Node 24)\n`)
  process.exit(1)
}
await import("../dist/cli/main.js")
