import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Most of the suite's time is spent waiting on built daemons, fake servers and Redis, not on
    // CPU: four files at a time on a 2-core machine take the suite from ~260 s to ~95 s.
    maxWorkers: 4
  }
})
