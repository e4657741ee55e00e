// The running channels, as the rest of the gateway sees them: each channel's traits (what the
// agent is told about it) and its life (starting, up, failing, stopped, with the last error).
// A channel is added for as long as its scope lives (see src/channels/Channel.ts and
// src/layers/channels.ts); the agent's header, /status and /health read it from here.
import { Clock, Context, Effect, Layer, Scope } from "effect"

/** What a channel can show, for the model's header and for chunking. */
export interface ChannelTraits {
  /** In words, for the model: "Markdown", "plain text in a terminal", … */
  readonly renders: string
  /** The longest message the channel takes in one piece (Infinity: no limit). */
  readonly maxChars: number
  /** `ask` shows native buttons; otherwise a numbered list the person answers by typing. */
  readonly buttons: boolean
}

/** Plain text, no limit, no buttons: what the agent assumes of a source no channel claims. */
export const PLAIN_TRAITS: ChannelTraits = { renders: "plain text", maxChars: Number.POSITIVE_INFINITY, buttons: false }

/** `standby`: cluster mode, another daemon runs this channel's receiver; this one still sends. */
export type ChannelState = "starting" | "up" | "standby" | "failing" | "stopped"

export interface ChannelReport {
  readonly name: string
  readonly traits: ChannelTraits
  readonly state: ChannelState
  /** ISO time of the last change of state. */
  readonly since: string
  readonly lastError: string | null
  /** How often the channel was started again after it failed. */
  readonly restarts: number
}

/** One channel's handle on its own entry: it says when it receives and when it does not. */
export interface ChannelLifeHandle {
  readonly name: string
  /** Receiving: polls answer, the socket is connected, the webhook is set. */
  readonly up: Effect.Effect<void>
  /** Another daemon of the cluster receives for this channel; this one sends. */
  readonly standby: Effect.Effect<void>
  /** Not receiving right now (it keeps trying); `reason` shows in /status and /health. */
  readonly failing: (reason: string) => Effect.Effect<void>
  /** Being started again after a failure (counted; it stays `failing` until `up`). */
  readonly restarting: (reason: string) => Effect.Effect<void>
}

/** The channel's own handle, provided to its layer by src/layers/channels.ts. */
export class ChannelLife extends Context.Service<ChannelLife, ChannelLifeHandle>()("switchboard/ChannelLife") {}

interface Entry {
  readonly traits: ChannelTraits
  state: ChannelState
  since: number
  lastError: string | null
  restarts: number
}

export class Channels extends Context.Service<Channels, {
  /** Add a channel (state `starting`) for the lifetime of the caller's scope; `stopped` after it. */
  readonly add: (name: string, traits: ChannelTraits) => Effect.Effect<ChannelLifeHandle, never, Scope.Scope>
  /** The traits of a channel that is (or was) running; undefined for any other name. */
  readonly traitsOf: (channel: string) => Effect.Effect<ChannelTraits | undefined>
  readonly list: Effect.Effect<ReadonlyArray<ChannelReport>>
}>()("switchboard/Channels") {
  static readonly make = Effect.sync(() => {
    const entries = new Map<string, Entry>()

    const set = (entry: Entry, state: ChannelState, error?: string) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        if (entry.state !== state) entry.since = now
        entry.state = state
        if (error !== undefined) entry.lastError = error
      })

    const add = (name: string, traits: ChannelTraits) =>
      Effect.gen(function*() {
        const entry: Entry = { traits, state: "starting", since: yield* Clock.currentTimeMillis, lastError: null, restarts: 0 }
        entries.set(name, entry)
        // A stopped channel stays listed (as stopped) until a new one of the same name is added.
        yield* Effect.addFinalizer(() => set(entry, "stopped"))
        return {
          name,
          up: set(entry, "up"),
          standby: set(entry, "standby"),
          failing: (reason: string) => set(entry, "failing", reason),
          // Counted; the state stays what it was (failing) until the channel says it is up again, so
          // a channel that crashes over and over cannot look like one that is just starting.
          restarting: (reason: string) =>
            Effect.sync(() => {
              entry.restarts++
              entry.lastError = reason
            })
        } satisfies ChannelLifeHandle
      })

    const list = Effect.sync(() =>
      [...entries].map(([name, e]): ChannelReport => ({
        name,
        traits: e.traits,
        state: e.state,
        since: new Date(e.since).toISOString(),
        lastError: e.lastError,
        restarts: e.restarts
      }))
    )

    return Channels.of({ add, traitsOf: (channel) => Effect.sync(() => entries.get(channel)?.traits), list })
  })

  static readonly layer = Layer.effect(Channels, Channels.make)
}
