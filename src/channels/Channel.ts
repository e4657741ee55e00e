// The channel contract. A channel is one folder under src/channels/<name>/ that exports one
// ChannelDefinition, plus one line in src/layers/channels.ts. Nothing else in the gateway names a
// channel: the source prefix routes replies to its sender, its traits reach the model's header,
// and /status and /health show its life.
//
// What the layer does while it lives (its scope is the channel's life):
// - registers its sender with the Router under `name`;
// - receives: hands each inbound message to Intake with source `<name>:<peer>` and an id made of
//   the channel's own message id (`<name>:<id>`, the dedupe key);
// - says when it receives: `ChannelLife.up` once polls answer / the socket is connected, and
//   `ChannelLife.failing(reason)` while it cannot (it keeps trying, with backoff);
// - adds HTTP routes it needs on the daemon's server (webhooks) through `ChannelRoutes`;
// - may contribute a /status section and health check of its own (Status.contribute…).
// Closing the scope stops receiving, acknowledges what was handed over, and unregisters.
import type { Layer } from "effect"
import type { ChannelLife, Channels, ChannelTraits } from "../core/Channels.ts"
import type { CommandQueue } from "../core/CommandQueue.ts"
import type { Dispatcher } from "../core/Dispatcher.ts"
import type { Intake } from "../core/Intake.ts"
import type { Questions } from "../core/Questions.ts"
import type { Router } from "../core/Router.ts"
import type { Status } from "../core/Status.ts"
import type { TurnEvents } from "../core/TurnEvents.ts"
import type { Agents } from "../config/Agents.ts"
import type { GatewayConfig, GatewaySettings } from "../config/GatewayConfig.ts"
import type { HeartbeatWake } from "../heartbeat/HeartbeatWake.ts"
import type { SystemEvents } from "../heartbeat/SystemEvents.ts"
import type { ChannelRoutes } from "./http/ChannelRoutes.ts"
import type { Inbox } from "./http/Inbox.ts"
import type { Store } from "../store/Store.ts"

export type { ChannelLifeHandle, ChannelReport, ChannelState, ChannelTraits } from "../core/Channels.ts"

/** What a channel's layer may use. */
export type ChannelServices =
  | GatewayConfig
  | Agents
  | Intake
  // For a channel that takes more than messages (the Redis bus: dedupe of notifications, system events).
  | CommandQueue
  | SystemEvents
  | HeartbeatWake
  // What a channel must find again after a crash (Telegram's offset): its own table in the store.
  | Store
  | Router
  | Questions
  | Dispatcher
  | TurnEvents
  | Status
  | Channels
  | ChannelLife
  | ChannelRoutes
  | Inbox

/** `R`: what its layer needs (any of ChannelServices; the default is all of them). */
export interface ChannelDefinition<R extends ChannelServices = ChannelServices> {
  /** The source prefix: `telegram` serves `telegram:*` sources and targets. */
  readonly name: string
  /** What the model is told about this channel, and the length replies are split at. */
  readonly traits: ChannelTraits
  /** On for these settings (e.g. a token is set). */
  readonly enabled: (settings: GatewaySettings) => boolean
  /** The channel while it runs (see above). Built after the HTTP server listens. */
  readonly layer: Layer.Layer<never, unknown, R>
}
