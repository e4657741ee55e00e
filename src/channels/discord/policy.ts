// Who the bot listens to. Default deny: a message reaches the agent only from a channel in
// DISCORD_ALLOWED_CHANNEL_IDS (a thread counts as its parent channel) or from a user in
// DISCORD_ALLOWED_USER_IDS. In an allowed channel the bot answers every message (or only when
// mentioned, with DISCORD_REQUIRE_MENTION); elsewhere in a server only an allowed user who
// mentions it; in a DM an allowed user. Other bots, webhooks and the bot itself are ignored. Pure.
import { type Message, PERSON_MESSAGE_TYPES } from "./events.ts"

export interface AccessLists {
  readonly channels: ReadonlySet<string>
  readonly users: ReadonlySet<string>
  readonly requireMention: boolean
}

/** Where a message was written. For a thread, `channelId` is its parent. */
export interface Place {
  readonly channelId: string
  readonly threadId?: string | undefined
  readonly dm: boolean
}

export type Decision =
  | { readonly _tag: "Accept"; readonly text: string }
  /** Not for us (another bot, our own message, chatter that does not address us): not counted as denied. */
  | { readonly _tag: "Ignore"; readonly reason: "bot" | "self" | "system" | "not_addressed" }
  /** Addressed to us by someone the lists do not allow. */
  | { readonly _tag: "Deny" }

export const mentions = (message: Message, botId: string | undefined): boolean =>
  botId !== undefined &&
  ((message.mentions ?? []).some((m) => m.id === botId) || message.content.includes(`<@${botId}>`) ||
    message.content.includes(`<@!${botId}>`))

/** The text without the mentions of the bot (`<@id>`, `<@!id>`), so `@bot /stop` is a command. */
export const withoutMention = (content: string, botId: string | undefined): string =>
  botId === undefined ? content.trim() : content.split(`<@${botId}>`).join(" ").split(`<@!${botId}>`).join(" ").replace(/[ \t]{2,}/g, " ").trim()

export const channelAllowed = (lists: AccessLists, place: Place): boolean =>
  lists.channels.has(place.channelId) || (place.threadId !== undefined && lists.channels.has(place.threadId))

export const decide = (message: Message, place: Place, botId: string | undefined, lists: AccessLists): Decision => {
  if (botId !== undefined && message.author.id === botId) return { _tag: "Ignore", reason: "self" }
  if (message.author.bot === true || message.webhook_id !== undefined) return { _tag: "Ignore", reason: "bot" }
  if (!PERSON_MESSAGE_TYPES.includes(message.type ?? 0)) return { _tag: "Ignore", reason: "system" }
  const mentioned = mentions(message, botId)
  const userAllowed = lists.users.has(message.author.id)
  const accept = { _tag: "Accept", text: withoutMention(message.content, botId) } as const
  if (place.dm) return userAllowed || channelAllowed(lists, place) ? accept : { _tag: "Deny" }
  if (channelAllowed(lists, place)) {
    return lists.requireMention && !mentioned ? { _tag: "Ignore", reason: "not_addressed" } : accept
  }
  if (!mentioned) return { _tag: "Ignore", reason: "not_addressed" }
  return userAllowed ? accept : { _tag: "Deny" }
}

/** May this user press a button or use a slash command here (the same lists as for messages)? */
export const mayInteract = (userId: string, place: Place, lists: AccessLists): boolean =>
  lists.users.has(userId) || channelAllowed(lists, place)
