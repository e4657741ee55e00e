// A fake Discord on 127.0.0.1:<random>: the REST API the channel uses (messages, typing, channels,
// interaction callbacks and webhooks, application commands, /gateway/bot) and the gateway (see
// fakeDiscordGateway.ts) on the same port. It keeps every channel's messages as a Discord user
// would see them (edits applied, ephemeral notices apart), records every request, and lets a test
// speak as users (`say`, `press`, `slash`), cut the gateway, and script failures (429 with
// retry_after, 403 Missing Access, …). Start it with `yield* fakeDiscord` inside a scope.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { type FakeGateway, makeGateway } from "./fakeDiscordGateway.ts"
import { makeWatch } from "./watch.ts"

export const DISCORD_TOKEN = "fake-discord-token.abc.def"
export const BOT = { id: "900", username: "switchboard", bot: true } as const
export const APPLICATION_ID = "901"
export const GUILD = "700"

export interface FakeUser {
  readonly id: string
  readonly username: string
  readonly bot?: boolean
}
export const ALICE: FakeUser = { id: "1001", username: "alice" }
export const BOB: FakeUser = { id: "1002", username: "bob" }
export const MALLORY: FakeUser = { id: "1003", username: "mallory" }

export interface FakeMessage {
  readonly id: string
  readonly channel_id: string
  readonly guild_id?: string | undefined
  readonly author: FakeUser
  content: string
  components: Array<any>
  readonly type: number
  readonly mentions: Array<{ id: string }>
  readonly message_reference?: { message_id: string } | undefined
  edits: number
  /** A deferred interaction response ("thinking…") that has not been edited yet. */
  thinking?: boolean
}

export interface RestCall {
  readonly method: string
  readonly path: string
  readonly body: any
  readonly at: number
}

export interface ScriptedFailure {
  readonly status: number
  readonly code?: number
  readonly message: string
  /** Seconds (a 429's retry_after and Retry-After header). */
  readonly retryAfter?: number
  readonly global?: boolean
}

export interface ChannelDef {
  readonly type: number
  readonly guild_id?: string
  readonly parent_id?: string
  readonly recipients?: ReadonlyArray<FakeUser>
}

export interface FakeDiscord {
  readonly url: string
  /** DISCORD_API_ROOT for the channel. */
  readonly apiRoot: string
  readonly token: string
  readonly gateway: FakeGateway
  readonly calls: Array<RestCall>
  readonly ephemerals: Array<{ readonly userId: string; readonly channelId: string; readonly content: string }>
  readonly commands: Array<{ name: string; description: string }>
  /** Channel types for GET /channels/:id (unknown ids are text channels of GUILD). */
  readonly defineChannel: (id: string, def: ChannelDef) => void
  /** A user writes in a channel (a DM when the channel is defined as one). */
  readonly say: (channelId: string, text: string, options?: {
    author?: FakeUser
    mentionBot?: boolean
    id?: string
    type?: number
    attachments?: Array<unknown>
    /** Only stored (visible to REST catch-up), not dispatched: sent while the bot was away. */
    silently?: boolean
  }) => FakeMessage
  /** A user presses option `index` of the buttons on `message`. Returns the interaction id. */
  readonly press: (message: FakeMessage, index: number, user?: FakeUser) => string
  /** A user runs a slash command in a channel. */
  readonly slash: (channelId: string, name: string, user?: FakeUser) => string
  /** Messages in a channel as a user sees them. */
  readonly messages: (channelId: string) => Array<FakeMessage>
  /** Texts of the bot's messages in a channel, in order. */
  readonly botTexts: (channelId: string) => Array<string>
  readonly callsTo: (method: string, pathPattern: RegExp) => Array<RestCall>
  /** Fail the next `times` requests matching `method` and `path` with `failure`. */
  readonly fail: (method: string, path: RegExp, failure: ScriptedFailure, times?: number) => void
  /** Resolves once `predicate` holds (checked on every request and gateway event); dies after `timeoutMs`. */
  readonly waitFor: (label: string, predicate: () => boolean, timeoutMs?: number) => Effect.Effect<void>
}

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  if (res.writableEnded || res.destroyed) return
  if (status === 204) {
    res.writeHead(204, headers)
    return res.end()
  }
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const failureResponse = (res: ServerResponse, f: ScriptedFailure) => {
  if (f.status === 429) {
    const after = f.retryAfter ?? 1
    return json(res, 429, { message: f.message, retry_after: after, global: f.global === true, ...(f.code ? { code: f.code } : {}) }, {
      "retry-after": String(Math.ceil(after * 1000) / 1000),
      "x-ratelimit-scope": f.global === true ? "global" : "user",
      ...(f.global === true ? { "x-ratelimit-global": "true" } : {})
    })
  }
  return json(res, f.status, { message: f.message, code: f.code ?? 0 })
}

export const fakeDiscord = Effect.acquireRelease(
  Effect.callback<{ fake: FakeDiscord; close: () => Promise<void> }>((resume) => {
    // Snowflakes as Discord makes them: milliseconds since 2015 in the high bits, so ids grow with time.
    const snowflakes = { seq: 0n }
    const nextId = () => String(((BigInt(Date.now()) - 1_420_070_400_000n) << 22n) | (snowflakes.seq++ & 0x3fffffn))
    const calls: Array<RestCall> = []
    const channels = new Map<string, Array<FakeMessage>>()
    const defs = new Map<string, ChannelDef>()
    const interactions = new Map<string, { token: string; channelId: string; messageId?: string; answered: boolean; userId: string }>()
    const ephemerals: FakeDiscord["ephemerals"] = []
    const commands: FakeDiscord["commands"] = []
    const scripts: Array<{ method: string; path: RegExp; failure: ScriptedFailure; times: number }> = []
    const watch = makeWatch(() =>
      `requests: ${JSON.stringify(calls.map((c) => `${c.method} ${c.path}`))}\ngateway: ${JSON.stringify(gateway.stats)}`
    )
    const changed = watch.notify
    const log = (id: string) => {
      let list = channels.get(id)
      if (list === undefined) channels.set(id, list = [])
      return list
    }
    const find = (channelId: string, messageId: string) => log(channelId).find((m) => m.id === messageId)
    const def = (id: string): ChannelDef => defs.get(id) ?? { type: 0, guild_id: GUILD }
    const botMessage = (channelId: string, body: any): FakeMessage => {
      const m: FakeMessage = {
        id: nextId(),
        channel_id: channelId,
        guild_id: def(channelId).guild_id,
        author: BOT,
        content: String(body?.content ?? ""),
        components: body?.components ?? [],
        type: 0,
        mentions: [],
        message_reference: body?.message_reference,
        edits: 0
      }
      log(channelId).push(m)
      return m
    }
    const apply = (m: FakeMessage, body: any) => {
      if (body?.content !== undefined) m.content = String(body.content)
      if (body?.components !== undefined) m.components = body.components
      m.edits++
      m.thinking = false
    }
    const wire = (m: FakeMessage) => ({ ...m, edits: undefined, thinking: undefined })

    const route = (method: string, path: string, body: any, req: IncomingMessage, res: ServerResponse) => {
      const script = scripts.find((s) => s.method === method && s.times > 0 && s.path.test(path))
      if (script) {
        script.times--
        return failureResponse(res, script.failure)
      }
      const isInteraction = /^\/(interactions|webhooks)\//.test(path)
      if (!isInteraction && req.headers.authorization !== `Bot ${DISCORD_TOKEN}`) {
        return json(res, 401, { message: "401: Unauthorized", code: 0 })
      }
      let m: RegExpExecArray | null
      if (method === "GET" && path === "/gateway/bot") {
        return json(res, 200, {
          url: fake.url.replace(/^http/, "ws"),
          shards: 1,
          session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 }
        })
      }
      if ((m = /^\/channels\/(\d+)$/.exec(path)) && method === "GET") {
        const d = def(m[1]!)
        return json(res, 200, { id: m[1], ...d, recipients: d.recipients?.map((u) => ({ id: u.id, username: u.username })) })
      }
      if ((m = /^\/channels\/(\d+)\/messages$/.exec(path))) {
        const channelId = m[1]!
        if (method === "POST") return json(res, 200, wire(botMessage(channelId, body)))
        if (method === "GET") {
          const url = new URL(req.url ?? "/", "http://x")
          const after = BigInt(url.searchParams.get("after") ?? "0")
          const limit = Number(url.searchParams.get("limit") ?? "50")
          const newer = log(channelId).filter((x) => BigInt(x.id) > after).slice(0, limit)
          return json(res, 200, newer.reverse().map(wire)) // Discord answers newest first
        }
      }
      if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(path)) && method === "PATCH") {
        const target = find(m[1]!, m[2]!)
        if (target === undefined) return json(res, 404, { message: "Unknown Message", code: 10008 })
        apply(target, body)
        return json(res, 200, wire(target))
      }
      if ((m = /^\/channels\/(\d+)\/typing$/.exec(path)) && method === "POST") return json(res, 204, undefined)
      if ((m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(path)) && method === "POST") {
        const interaction = interactions.get(m[1]!)
        if (interaction === undefined || interaction.token !== m[2]) return json(res, 404, { message: "Unknown interaction", code: 10062 })
        if (interaction.answered) return json(res, 400, { message: "Interaction has already been acknowledged.", code: 40060 })
        interaction.answered = true
        const data = body?.data ?? {}
        switch (body?.type) {
          case 4:
            if ((Number(data.flags ?? 0) & 64) !== 0) {
              ephemerals.push({ userId: interaction.userId, channelId: interaction.channelId, content: String(data.content ?? "") })
            } else interaction.messageId = botMessage(interaction.channelId, data).id
            break
          case 5: {
            const placeholder = botMessage(interaction.channelId, {})
            placeholder.thinking = true
            interaction.messageId = placeholder.id
            break
          }
          case 7: {
            const target = interaction.messageId === undefined ? undefined : find(interaction.channelId, interaction.messageId)
            if (target !== undefined) apply(target, data)
            break
          }
        }
        return json(res, 204, undefined)
      }
      if ((m = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/.exec(path)) && method === "PATCH") {
        const interaction = [...interactions.values()].find((i) => i.token === m![2])
        const target = interaction?.messageId === undefined ? undefined : find(interaction.channelId, interaction.messageId)
        if (target === undefined) return json(res, 404, { message: "Unknown Message", code: 10008 })
        apply(target, body)
        return json(res, 200, wire(target))
      }
      if ((m = /^\/applications\/(\d+)\/commands$/.exec(path)) && method === "PUT") {
        commands.splice(0, commands.length, ...(body as Array<{ name: string; description: string }>))
        return json(res, 200, commands.map((c) => ({ ...c, id: nextId(), application_id: m![1] })))
      }
      return json(res, 404, { message: `404: Not Found (${method} ${path})`, code: 0 })
    }

    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        const path = decodeURIComponent((req.url ?? "/").split("?")[0]!).replace(/^\/api\/v10/, "")
        let body: any
        try {
          const text = Buffer.concat(chunks).toString("utf8")
          body = text.length > 0 ? JSON.parse(text) : undefined
        } catch {
          return json(res, 400, { message: "invalid JSON", code: 50109 })
        }
        calls.push({ method: req.method ?? "GET", path, body, at: Date.now() })
        route(req.method ?? "GET", path, body, req, res)
        changed()
      })
    })

    const userMessage = (channelId: string, text: string, o: Parameters<FakeDiscord["say"]>[2] = {}): FakeMessage => {
      const author = o.author ?? ALICE
      const mentions = o.mentionBot === true ? [{ id: BOT.id }] : []
      const m: FakeMessage = {
        id: o.id ?? nextId(),
        channel_id: channelId,
        guild_id: def(channelId).guild_id,
        author,
        content: o.mentionBot === true ? `<@${BOT.id}> ${text}` : text,
        components: [],
        type: o.type ?? 0,
        mentions,
        edits: 0,
        ...(o.attachments !== undefined ? { attachments: o.attachments } : {})
      }
      log(channelId).push(m)
      if (o.silently !== true) gateway.dispatch("MESSAGE_CREATE", wire(m))
      return m
    }

    const interactionBase = (channelId: string, user: FakeUser) => {
      const id = nextId()
      const token = `itoken-${id}`
      const d = def(channelId)
      return {
        id,
        token,
        payload: {
          id,
          token,
          application_id: APPLICATION_ID,
          channel_id: channelId,
          channel: { id: channelId, type: d.type, ...(d.parent_id !== undefined ? { parent_id: d.parent_id } : {}) },
          ...(d.guild_id !== undefined
            ? { guild_id: d.guild_id, member: { user: { id: user.id, username: user.username } } }
            : { user: { id: user.id, username: user.username } }),
          version: 1
        }
      }
    }

    const gateway = makeGateway(server, {
      token: DISCORD_TOKEN,
      user: BOT,
      applicationId: APPLICATION_ID,
      wsUrl: () => fake.url.replace(/^http/, "ws"),
      changed
    })

    const fake: FakeDiscord = {
      url: "",
      apiRoot: "",
      token: DISCORD_TOKEN,
      gateway,
      calls,
      ephemerals,
      commands,
      defineChannel: (id, d) => void defs.set(id, d),
      say: userMessage,
      press: (message, index, user = ALICE) => {
        const base = interactionBase(message.channel_id, user)
        const button = message.components.flatMap((row: any) => row.components ?? [])[index]
        interactions.set(base.id, { token: base.token, channelId: message.channel_id, messageId: message.id, answered: false, userId: user.id })
        gateway.dispatch("INTERACTION_CREATE", {
          ...base.payload,
          type: 3,
          data: { custom_id: button?.custom_id ?? `missing-${index}`, component_type: 2 },
          message: wire(message)
        })
        return base.id
      },
      slash: (channelId, name, user = ALICE) => {
        const base = interactionBase(channelId, user)
        interactions.set(base.id, { token: base.token, channelId, answered: false, userId: user.id })
        gateway.dispatch("INTERACTION_CREATE", { ...base.payload, type: 2, data: { id: nextId(), name, type: 1 } })
        return base.id
      },
      messages: (channelId) => log(channelId),
      botTexts: (channelId) => log(channelId).filter((m) => m.author.id === BOT.id).map((m) => m.content),
      callsTo: (method, pattern) => calls.filter((c) => c.method === method && pattern.test(c.path)),
      fail: (method, path, failure, times = 1) => void scripts.push({ method, path, failure, times }),
      waitFor: (label, predicate, timeoutMs = 10_000) => watch.waitFor(label, predicate, timeoutMs)
    }

    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      Object.assign(fake, { url: `http://127.0.0.1:${port}`, apiRoot: `http://127.0.0.1:${port}/api` })
      resume(Effect.succeed({
        fake,
        close: async () => {
          await gateway.close()
          server.closeAllConnections()
          await new Promise<void>((done) => server.close(() => done()))
        }
      }))
    })
  }),
  ({ close }) => Effect.promise(close)
).pipe(Effect.map(({ fake }) => fake))
