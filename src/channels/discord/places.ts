// Which channel a message was written in, as the channel's sources name it: a DM, a server
// channel, or a thread (then its parent too). Discord's MESSAGE_CREATE does not say whether its
// channel is a thread, so that is looked up once per channel (GET /channels/:id) and remembered.
import { Effect, Exit, Schema } from "effect"
import { ChannelInfo, DM, GROUP_DM, THREAD_TYPES } from "./events.ts"
import type { DiscordApi } from "./DiscordApi.ts"
import type { Place } from "./policy.ts"
import { makeRecent } from "../recent.ts"
import type { DiscordAddress } from "./target.ts"

export const placeOf = (channelId: string, info: ChannelInfo | undefined, inGuild: boolean): Place => {
  if (info !== undefined && THREAD_TYPES.includes(info.type) && typeof info.parent_id === "string") {
    return { channelId: info.parent_id, threadId: channelId, dm: false }
  }
  const dm = info !== undefined ? info.type === DM || info.type === GROUP_DM : !inGuild
  return { channelId, dm }
}

export const addressOf = (place: Place): DiscordAddress =>
  place.threadId === undefined ? { channelId: place.channelId } : { channelId: place.channelId, threadId: place.threadId }

export const makePlaces = (api: DiscordApi["Service"], capacity: number) => {
  const cache = makeRecent<string, ChannelInfo>(capacity)
  const decode = Schema.decodeUnknownExit(ChannelInfo)

  /** The channel's description, or undefined when Discord could not tell (logged). */
  const info = (channelId: string): Effect.Effect<ChannelInfo | undefined> =>
    Effect.suspend(() => {
      const known = cache.get(channelId)
      if (known !== undefined) return Effect.succeed(known)
      return api.channel(channelId).pipe(
        Effect.map((raw) => {
          const exit = decode(raw)
          if (Exit.isFailure(exit)) return undefined
          cache.set(channelId, exit.value)
          return exit.value
        }),
        Effect.catch((e) => Effect.as(Effect.logWarning(`could not look up Discord channel ${channelId}: ${e.message}`), undefined))
      )
    })

  /** Remember what an interaction payload already says about its channel. */
  const learn = (channel: ChannelInfo) => cache.set(channel.id, channel)

  const place = (channelId: string, inGuild: boolean) =>
    inGuild || cache.has(channelId) ? Effect.map(info(channelId), (i) => placeOf(channelId, i, inGuild)) : Effect.succeed(placeOf(channelId, undefined, false))

  return { info, learn, place }
}

export type Places = ReturnType<typeof makePlaces>
