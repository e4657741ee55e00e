// Discord as a few Effect calls and a queue of gateway events, over the discord.js team's modular
// packages: @discordjs/rest (REST with Discord's per-route and global rate limits), @discordjs/ws
// (the gateway: identify, heartbeat, resume, reconnect) and @discordjs/core (typed API routes and
// dispatch events) — no caches of guilds, members or messages. They are loaded on first use only,
// so a daemon without DISCORD_BOT_TOKEN never pays their memory.
import type { API, Client } from "@discordjs/core"
import type { REST } from "@discordjs/rest"
import type { WebSocketManager } from "@discordjs/ws"
import { Context, Effect, Layer, Option, Queue, Random, Redacted, Schema } from "effect"
import { GatewayConfig } from "../../config/GatewayConfig.ts"
import type { ActionRow } from "./buttons.ts"
import { FATAL_CLOSE_CODES, INTENTS, reconnectDelayMs } from "./gatewayPolicy.ts"

export class DiscordApiError extends Schema.TaggedError<DiscordApiError>()("DiscordApiError", {
  operation: Schema.String,
  /** The HTTP status; 0 when Discord could not be reached or did not answer in time. */
  status: Schema.Number,
  /** Discord's JSON error code (50001 Missing Access, 10003 Unknown Channel, …); 0 when there is none. */
  code: Schema.Number,
  description: Schema.String,
  /** A rate limit longer than the library waits out itself: try again after this long. */
  retryAfterMs: Schema.optional(Schema.Number)
}) {
  override get message() {
    return `${this.operation}: ${this.status === 0 ? "" : `${this.status} `}${this.description}`
  }
}

export class DiscordNotConfigured extends Schema.TaggedError<DiscordNotConfigured>()("DiscordNotConfigured", {}) {
  override get message() {
    return "DISCORD_BOT_TOKEN is not set"
  }
}

export interface MessageBody {
  readonly content?: string
  readonly components?: ReadonlyArray<ActionRow>
  readonly message_reference?: { readonly message_id: string; readonly fail_if_not_exists: boolean }
  /** Which mentions in the text may ping; the channel always sends `{ parse: [] }` (none). */
  readonly allowed_mentions?: { readonly parse: ReadonlyArray<string>; readonly replied_user?: boolean }
  /** 64: ephemeral (interaction replies only). */
  readonly flags?: number
}

export type GatewayEvent =
  | { readonly _tag: "Dispatch"; readonly t: string; readonly d: unknown }
  /** A session is up: a fresh one (identify → READY) or a resumed one (nothing was missed). */
  | { readonly _tag: "Connected"; readonly resumed: boolean }
  | { readonly _tag: "Closed"; readonly code: number; readonly fatal: string | undefined }
  /** Events the channel could not keep up with (the queue was full); they are gone. */
  | { readonly _tag: "Dropped"; readonly count: number }

export interface DiscordApiOptions {
  readonly token: Redacted.Redacted<string>
  /** The REST root (`https://discord.com/api`); the gateway URL comes from its /gateway/bot. */
  readonly apiRoot: string
  /** Rate limits longer than this are not waited out inside a call: the call fails with retryAfterMs. */
  readonly longRateLimitMs?: number
  /** Discord allows one identify per 5 s (per max_concurrency bucket); tests may shorten it. */
  readonly identifySpacingMs?: number
  /** Gateway events waiting for the channel; beyond it new ones are dropped (and counted). */
  readonly eventCapacity?: number
}

export class DiscordApi extends Context.Service<DiscordApi, {
  readonly createMessage: (channelId: string, body: MessageBody) => Effect.Effect<{ readonly id: string }, DiscordApiError>
  readonly editMessage: (channelId: string, messageId: string, body: MessageBody) => Effect.Effect<void, DiscordApiError>
  readonly typing: (channelId: string) => Effect.Effect<void, DiscordApiError>
  /** GET /channels/:id, still to be decoded by the caller. */
  readonly channel: (channelId: string) => Effect.Effect<unknown, DiscordApiError>
  /** Up to `limit` messages posted after `afterId`, still to be decoded. */
  readonly messagesAfter: (channelId: string, afterId: string, limit: number) => Effect.Effect<ReadonlyArray<unknown>, DiscordApiError>
  /** Answer an interaction with a message (type 4); ephemeral with flags 64. */
  readonly reply: (interactionId: string, token: string, body: MessageBody) => Effect.Effect<void, DiscordApiError>
  /** Answer an interaction with "thinking…" (type 5); `editReply` replaces it later. */
  readonly defer: (interactionId: string, token: string) => Effect.Effect<void, DiscordApiError>
  /** Answer a button press by editing the message it is on (type 7). */
  readonly updateMessage: (interactionId: string, token: string, body: MessageBody) => Effect.Effect<void, DiscordApiError>
  readonly editReply: (applicationId: string, token: string, body: MessageBody) => Effect.Effect<void, DiscordApiError>
  readonly registerCommands: (
    applicationId: string,
    commands: ReadonlyArray<{ readonly name: string; readonly description: string }>
  ) => Effect.Effect<void, DiscordApiError>
  /** Gateway events in order of arrival. */
  readonly events: Queue.Dequeue<GatewayEvent>
  /** Open the gateway; succeeds once the first session is up, then reconnects by itself. */
  readonly connect: Effect.Effect<void, DiscordApiError>
  /** Close the gateway (cluster mode: another daemon receives now); `connect` opens it again. Never fails. */
  readonly disconnect: Effect.Effect<void>
}>()("switchboard/DiscordApi") {
  static readonly make = (options: DiscordApiOptions) =>
    Effect.gen(function*() {
      const services = yield* Effect.context<never>()
      const run = Effect.runPromiseWith(services)
      const events = yield* Queue.dropping<GatewayEvent>(options.eventCapacity ?? 10_000)
      const longRateLimitMs = options.longRateLimitMs ?? 4000
      const state = { dropped: 0, failures: 0, reconnecting: false, stopping: false, paused: false, fatalCode: undefined as number | undefined }
      const push = (event: GatewayEvent) => {
        if (Queue.offerUnsafe(events, event)) {
          if (state.dropped > 0 && Queue.offerUnsafe(events, { _tag: "Dropped", count: state.dropped })) state.dropped = 0
        } else state.dropped++
      }
      const log = (effect: Effect.Effect<void>) => void run(effect)

      interface Loaded {
        readonly rest: REST
        readonly api: API
        readonly gateway: WebSocketManager
        readonly errors: RestErrors
      }
      // Loaded on first use; the finalizer closes whatever was built.
      const built: { current: Loaded | undefined } = { current: undefined }
      const load = Effect.promise(async (): Promise<Loaded> => {
        const lib = await import("./discordLib.ts")
        const token = Redacted.value(options.token)
        const rest = new lib.REST({
          api: options.apiRoot,
          timeout: 10_000,
          retries: 2,
          // Short waits (a per-route bucket, a global limit) are waited out in the library; a long
          // one fails the call with its retry_after so the Router can keep the message in its outbox.
          rejectOnRateLimit: (limit) => limit.retryAfter > longRateLimitMs || limit.timeToReset > longRateLimitMs
        }).setToken(token)
        const sessions = new Map<number, import("./discordLib.ts").SessionInfo>()
        const spacing = options.identifySpacingMs ?? 5000
        const lastIdentify = { at: Number.NEGATIVE_INFINITY }
        const gateway = new lib.WebSocketManager({
          token,
          intents: INTENTS,
          rest,
          // Our own session store (the library's default is shared by every manager in the process).
          retrieveSessionInfo: async (shardId) => {
            // The library reconnects 500 ms after a close, however often: this is where we back off.
            if (state.reconnecting) {
              state.reconnecting = false
              const wait = reconnectDelayMs(state.failures, await run(Random.next)) - 500
              if (wait > 0) await run(Effect.sleep(wait))
            }
            // Stopped: a reconnect still on its way never starts (the library has no way to cancel it).
            if (state.stopping || state.paused) await never
            return sessions.get(shardId) ?? null
          },
          updateSessionInfo: (shardId, info) => {
            if (info === null) sessions.delete(shardId)
            else sessions.set(shardId, info)
          },
          buildIdentifyThrottler: () => ({
            waitForIdentify: async () => {
              const wait = lastIdentify.at + spacing - Date.now()
              if (wait > 0) await run(Effect.sleep(wait))
              if (state.stopping) await never
              lastIdentify.at = Date.now()
            }
          })
        })
        const client: Client = new lib.Client({ rest, gateway })
        for (const t of [lib.GatewayDispatchEvents.MessageCreate, lib.GatewayDispatchEvents.InteractionCreate, lib.GatewayDispatchEvents.Ready] as const) {
          client.on(t, ({ data }: { data: unknown }) => push({ _tag: "Dispatch", t, d: data }))
        }
        gateway.on(lib.WebSocketShardEvents.Ready, () => {
          state.failures = 0
          push({ _tag: "Connected", resumed: false })
        })
        gateway.on(lib.WebSocketShardEvents.Resumed, () => {
          state.failures = 0
          push({ _tag: "Connected", resumed: true })
        })
        gateway.on(lib.WebSocketShardEvents.Closed, (code: number) => {
          if (state.stopping || state.paused) return
          if (FATAL_CLOSE_CODES[code] !== undefined) state.fatalCode = code
          state.failures++
          state.reconnecting = true
          push({ _tag: "Closed", code, fatal: FATAL_CLOSE_CODES[code] })
        })
        gateway.on(lib.WebSocketShardEvents.Error, (error: Error) =>
          log(Effect.logWarning(`discord gateway: ${scrub(String(error?.message ?? error), token)}`)))
        gateway.on(lib.WebSocketShardEvents.Debug, (message: string) =>
          log(Effect.logDebug(`discord gateway: ${scrub(message, token)}`)))
        built.current = { rest, api: client.api, gateway, errors: lib }
        return built.current
      })
      const lib = yield* Effect.cached(load)
      yield* Effect.addFinalizer(() =>
        Effect.promise(async () => {
          state.stopping = true
          const loaded = built.current
          if (loaded === undefined) return
          await Promise.resolve(loaded.gateway.destroy({ code: 1000, reason: "switchboard is stopping" })).catch(() => undefined)
          loaded.rest.clearHashSweeper()
          loaded.rest.clearHandlerSweeper()
        }).pipe(Effect.andThen(Queue.shutdown(events)))
      )

      const call = <A>(operation: string, f: (l: Loaded, signal: AbortSignal) => Promise<A>) =>
        Effect.flatMap(lib, (l) =>
          Effect.tryPromise({
            try: (signal) => f(l, signal),
            catch: (cause) => toApiError(l.errors, operation, cause, Redacted.value(options.token))
          }))

      return DiscordApi.of({
        createMessage: (channelId, body) =>
          call("createMessage", (l, signal) => l.api.channels.createMessage(channelId, body as never, { signal })).pipe(
            Effect.map((m) => ({ id: m.id }))
          ),
        editMessage: (channelId, messageId, body) =>
          call("editMessage", (l, signal) => l.api.channels.editMessage(channelId, messageId, body as never, { signal })).pipe(Effect.asVoid),
        typing: (channelId) => call("typing", (l, signal) => l.api.channels.showTyping(channelId, { signal })),
        channel: (channelId) => call("getChannel", (l, signal) => l.api.channels.get(channelId, { signal })),
        messagesAfter: (channelId, after, limit) =>
          call("getMessages", (l, signal) => l.api.channels.getMessages(channelId, { after, limit }, { signal })),
        reply: (id, token, body) =>
          call("interactionReply", (l, signal) => l.api.interactions.reply(id, token, body as never, { signal })).pipe(Effect.asVoid),
        defer: (id, token) => call("interactionDefer", (l, signal) => l.api.interactions.defer(id, token, {}, { signal })).pipe(Effect.asVoid),
        updateMessage: (id, token, body) =>
          call("interactionUpdate", (l, signal) => l.api.interactions.updateMessage(id, token, body as never, { signal })).pipe(
            Effect.asVoid
          ),
        editReply: (applicationId, token, body) =>
          call("interactionEditReply", (l, signal) => l.api.interactions.editReply(applicationId, token, body as never, "@original", { signal }))
            .pipe(Effect.asVoid),
        registerCommands: (applicationId, commands) =>
          call("registerCommands", (l, signal) =>
            l.api.applicationCommands.bulkOverwriteGlobalCommands(applicationId, commands as never, { signal })).pipe(Effect.asVoid),
        events,
        // A refusal for good (token, intents) fails with its close code as `code`: see isFatal.
        disconnect: Effect.promise(async () => {
          const loaded = built.current
          if (loaded === undefined || state.stopping) return
          state.paused = true
          await Promise.resolve(loaded.gateway.destroy({ code: 1000, reason: "another switchboard daemon receives now" })).catch(() => undefined)
        }),
        connect: Effect.sync(() => (state.paused = false)).pipe(Effect.andThen(call("connect", (l) => l.gateway.connect()))).pipe(
          Effect.mapError((e) =>
            state.fatalCode === undefined ? e : new DiscordApiError({ operation: "connect", status: 0, code: state.fatalCode, description: FATAL_CLOSE_CODES[state.fatalCode]! })
          )
        )
      })
    })

  /** From DISCORD_BOT_TOKEN and DISCORD_API_ROOT. */
  static readonly layer = Layer.effect(
    DiscordApi,
    Effect.gen(function*() {
      const config = (yield* GatewayConfig).discord
      const token = yield* Option.match(config.botToken, {
        onNone: () => Effect.fail(new DiscordNotConfigured()),
        onSome: Effect.succeed
      })
      return yield* DiscordApi.make({ token, apiRoot: config.apiRoot })
    })
  )
}

const never = new Promise<never>(() => {})

/** Never let the token out, whatever a library puts into a message. */
export const scrub = (text: string, token: string) => token === "" ? text : text.split(token).join("<token>")

type RestErrors = Pick<typeof import("./discordLib.ts"), "DiscordAPIError" | "HTTPError" | "RateLimitError">

const toApiError = ({ DiscordAPIError, HTTPError, RateLimitError }: RestErrors, operation: string, cause: unknown, token: string) => {
  if (cause instanceof DiscordAPIError) {
    const raw = cause.rawError as { readonly message?: unknown }
    return new DiscordApiError({
      operation,
      status: cause.status,
      code: typeof cause.code === "number" ? cause.code : 0,
      description: scrub(typeof raw.message === "string" ? raw.message : cause.message, token)
    })
  }
  if (cause instanceof RateLimitError) {
    return new DiscordApiError({
      operation,
      status: 429,
      code: 0,
      description: `rate limited${cause.global ? " (global)" : ""} on ${cause.route}`,
      retryAfterMs: Math.max(cause.retryAfter, cause.timeToReset)
    })
  }
  if (cause instanceof HTTPError) {
    return new DiscordApiError({ operation, status: cause.status, code: 0, description: scrub(cause.message, token) })
  }
  const e = cause as { readonly name?: unknown; readonly message?: unknown }
  const description = e?.name === "AbortError" ? "timed out" : String(e?.message ?? cause)
  return new DiscordApiError({ operation, status: 0, code: 0, description: scrub(description, token) })
}

/** The gateway refused for good (a wrong token, intents the bot may not use): reconnecting cannot help. */
export const isFatal = (e: DiscordApiError) =>
  e.operation === "connect" && (e.status === 401 || (e.status === 0 && FATAL_CLOSE_CODES[e.code] !== undefined))

/** What the owner must fix, for a fatal error. */
export const fatalReason = (e: DiscordApiError) => e.status === 401 ? FATAL_CLOSE_CODES[4004]! : e.description

/** Retrying cannot help: no access, unknown channel or message, a body Discord refuses. */
export const isPermanent = (e: DiscordApiError) =>
  e.status === 401 || e.status === 403 || e.status === 404 || (e.status >= 400 && e.status < 500 && e.status !== 429 && e.status !== 408)
