// Background checks, triage, the digest and webhooks, on top of the core graph (they use Intake,
// the Router, the Dispatcher's turn events and Status). The probes are swappable (tests script them).
import { Layer } from "effect"
import { Checks } from "../checks/Checks.ts"
import { Digest } from "../checks/Digest.ts"
import { DigestStore } from "../checks/DigestStore.ts"
import { Probes } from "../checks/Probes.ts"
import { Triage } from "../checks/Triage.ts"
import { Webhooks } from "../checks/Webhooks.ts"

export const checksLayer = <R = Layer.Services<typeof Probes.live>>(
  probes: Layer.Layer<Probes, never, R> = Probes.live as Layer.Layer<Probes, never, any>
) =>
  Webhooks.layer.pipe(
    Layer.provideMerge(Checks.layer),
    Layer.provideMerge(probes),
    Layer.provideMerge(Triage.layer),
    Layer.provideMerge(Digest.layer),
    Layer.provideMerge(DigestStore.layer)
  )
