// The part of Discord's gateway dispatches the channel reads, as Schema: dispatches are untrusted
// input. Unknown fields are ignored; a dispatch that does not decode is logged, counted and skipped.
import { Schema } from "effect"

export const User = Schema.Struct({
  id: Schema.String,
  username: Schema.optional(Schema.String),
  global_name: Schema.optional(Schema.NullOr(Schema.String)),
  bot: Schema.optional(Schema.Boolean)
})
export type User = typeof User.Type

export const Ready = Schema.Struct({
  session_id: Schema.optional(Schema.String),
  user: User,
  application: Schema.optional(Schema.Struct({ id: Schema.String }))
})
export type Ready = typeof Ready.Type

/** Message types a person writes: DEFAULT and REPLY. Joins, pins, thread starts … are not messages. */
export const PERSON_MESSAGE_TYPES: ReadonlyArray<number> = [0, 19]

export const Message = Schema.Struct({
  id: Schema.String,
  channel_id: Schema.String,
  guild_id: Schema.optional(Schema.String),
  author: User,
  content: Schema.String,
  type: Schema.optional(Schema.Number),
  webhook_id: Schema.optional(Schema.String),
  mentions: Schema.optional(Schema.Array(Schema.Struct({ id: Schema.String }))),
  attachments: Schema.optional(Schema.Array(Schema.Unknown)),
  sticker_items: Schema.optional(Schema.Array(Schema.Unknown))
})
export type Message = typeof Message.Type

/** A channel as GET /channels/:id (or an interaction's partial channel) describes it. */
export const ChannelInfo = Schema.Struct({
  id: Schema.String,
  type: Schema.Number,
  parent_id: Schema.optional(Schema.NullOr(Schema.String)),
  recipients: Schema.optional(Schema.Array(Schema.Struct({ id: Schema.String })))
})
export type ChannelInfo = typeof ChannelInfo.Type

/** Channel types (Discord's numbers): DMs, and the three kinds of thread. */
export const DM = 1
export const GROUP_DM = 3
export const THREAD_TYPES: ReadonlyArray<number> = [10, 11, 12]

export const APPLICATION_COMMAND = 2
export const MESSAGE_COMPONENT = 3

export const Interaction = Schema.Struct({
  id: Schema.String,
  application_id: Schema.String,
  type: Schema.Number,
  token: Schema.String,
  channel_id: Schema.optional(Schema.String),
  channel: Schema.optional(ChannelInfo),
  guild_id: Schema.optional(Schema.String),
  member: Schema.optional(Schema.Struct({ user: User })),
  user: Schema.optional(User),
  data: Schema.optional(Schema.Struct({
    name: Schema.optional(Schema.String),
    custom_id: Schema.optional(Schema.String)
  })),
  message: Schema.optional(Schema.Struct({
    id: Schema.String,
    content: Schema.optional(Schema.String),
    components: Schema.optional(Schema.Array(Schema.Unknown))
  }))
})
export type Interaction = typeof Interaction.Type

/** Who pressed or typed: a guild member's user, or the DM's user. */
export const interactionUser = (i: Interaction): User | undefined => i.member?.user ?? i.user

/** `Ann (@ann)` / `ann` / `id 42`: who wrote, for the agent's context. */
export const senderOf = (user: User): string => {
  const name = user.global_name ?? user.username ?? `id ${user.id}`
  return user.username !== undefined && user.username !== name ? `${name} (@${user.username})` : name
}
