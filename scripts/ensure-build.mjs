// `npm start` on a fresh clone: build dist/ when it is missing or older than src/.
import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, statSync } from "node:fs"
import { join } from "node:path"

const newest = (dir) =>
  readdirSync(dir, { withFileTypes: true }).reduce((max, entry) => {
    const path = join(dir, entry.name)
    return Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs)
  }, 0)

const stale = !existsSync("dist/main.js") || newest("src") > statSync("dist/main.js").mtimeMs
if (stale) {
  console.error("switchboard: building dist/ (npm run build) …")
  execFileSync("npm", ["run", "--silent", "build"], { stdio: "inherit" })
}
