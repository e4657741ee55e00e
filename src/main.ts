// switchboard daemon entry point: compose and launch, nothing else.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { daemon } from "./layers/Daemon.ts"
import { configProviderLayer, describeStartupFailure } from "./config/environment.ts"
import { teardown } from "./layers/startup.ts"

const report = (error: unknown) =>
  Effect.sync(() => {
    process.stderr.write(`switchboard: ${describeStartupFailure(error, process.env)}\n`)
    process.exitCode = 2
  })

const program = Effect.suspend(() => Layer.launch(daemon(process.env).pipe(Layer.provide(configProviderLayer(process.env))))).pipe(
  Effect.catch(report),
  Effect.catchDefect(report)
)

NodeRuntime.runMain(program, { teardown, disableErrorReporting: true })
