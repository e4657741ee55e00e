// The folder map in the README ("How it is built") as a rule: imports only point down the list.
// A new top-level folder must be placed in the list here (and in the README) to pass.
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

/** A folder may import its own files and those of lower floors; equal floors do not import each other. */
const FLOORS: Record<string, number> = {
  domain: 0,
  config: 1,
  store: 2,
  core: 3,
  heartbeat: 4,
  agent: 5,
  checks: 6,
  channels: 7,
  cli: 7,
  cluster: 7,
  layers: 8,
  "main.ts": 9,
  "entry.ts": 10
}

const walk = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })

const floorOf = (path: string) => relative("src", path).split("/")[0]!

describe("the folder map", () => {
  it("every import in src/ points to the same folder or one below it", () => {
    const upward: Array<string> = []
    for (const file of walk("src").filter((f) => f.endsWith(".ts"))) {
      for (const m of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
        const from = floorOf(file)
        const to = floorOf(relative(".", resolve(dirname(file), m[1]!)))
        if (from === to) continue
        const a = FLOORS[from], b = FLOORS[to]
        if (a === undefined || b === undefined || b >= a) upward.push(`${file} imports ${m[1]}`)
      }
    }
    expect(upward).toEqual([])
  })

})
