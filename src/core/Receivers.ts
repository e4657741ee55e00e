// A channel's receiver that must be one per bot (Telegram long polling, the Discord gateway, Slack
// Socket Mode), or a background check that must run once. One daemon: it runs here. In a cluster (src/cluster/ClusterReceivers.ts) it runs as
// an effect/cluster Singleton: on exactly one daemon at a time; the others stand by and still send.
import { Context, Effect, Layer, Option, type Scope } from "effect"
import type { ChannelLifeHandle } from "./Channels.ts"

export class Receivers extends Context.Service<Receivers, {
  /** Runs `receive` (which never fails: it is supervised) for the caller's scope, here or elsewhere. */
  readonly run: (name: string, receive: Effect.Effect<void, never, Scope.Scope>, life?: ChannelLifeHandle) => Effect.Effect<void, never, Scope.Scope>
}>()("switchboard/Receivers") {
  static readonly here = Receivers.of({ run: (_name, receive) => Effect.asVoid(Effect.forkScoped(receive)) })
  static readonly local = Layer.succeed(Receivers, Receivers.here)
  /** The provided Receivers, or running here (channel tests build channels without one). */
  static readonly orLocal = Effect.map(Effect.serviceOption(Receivers), Option.getOrElse(() => Receivers.here))
}
