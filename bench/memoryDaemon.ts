// The daemon of src/main.ts with its store in memory (SQLite `:memory:`): what `npm run bench --
// durable` compares the store on disk against. Built to dist/bench-memory-daemon.js by the bench.
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { configProviderLayer, describeStartupFailure } from "../src/config/environment.ts"
import { daemon } from "../src/layers/Daemon.ts"
import { teardown } from "../src/layers/startup.ts"
import { Store } from "../src/store/Store.ts"

const report = (error: unknown) =>
  Effect.sync(() => {
    process.stderr.write(`switchboard: ${describeStartupFailure(error, process.env)}\n`)
    process.exitCode = 2
  })

const program = Effect.suspend(() =>
  Layer.launch(daemon(process.env, Store.memory).pipe(Layer.provide(configProviderLayer(process.env))))
).pipe(Effect.catch(report), Effect.catchDefect(report))

NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
