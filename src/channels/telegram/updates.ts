// The part of Telegram's Update the channel reads, as Schema: updates are untrusted input.
// Unknown fields are ignored; anything that does not decode is logged and skipped.
import { Schema } from "effect"

export const User = Schema.Struct({
  id: Schema.Number,
  is_bot: Schema.optional(Schema.Boolean),
  first_name: Schema.optional(Schema.String),
  username: Schema.optional(Schema.String)
})

export const Chat = Schema.Struct({
  id: Schema.Number,
  type: Schema.String
})

const present = Schema.optional(Schema.Unknown)

/** Message kinds the channel cannot hand to the agent yet; each gets a clear reply. */
export const UNSUPPORTED_KINDS = {
  photo: "photos",
  voice: "voice messages",
  audio: "audio files",
  video: "videos",
  video_note: "video messages",
  animation: "GIFs",
  document: "files",
  sticker: "stickers",
  location: "locations",
  contact: "contacts",
  poll: "polls"
} as const

export const Message = Schema.Struct({
  message_id: Schema.Number,
  chat: Chat,
  from: Schema.optional(User),
  message_thread_id: Schema.optional(Schema.Number),
  is_topic_message: Schema.optional(Schema.Boolean),
  text: Schema.optional(Schema.String),
  entities: Schema.optional(Schema.Array(Schema.Unknown)),
  reply_markup: Schema.optional(Schema.Unknown),
  photo: present,
  voice: present,
  audio: present,
  video: present,
  video_note: present,
  animation: present,
  document: present,
  sticker: present,
  location: present,
  contact: present,
  poll: present
})
export type Message = typeof Message.Type

export const CallbackQuery = Schema.Struct({
  id: Schema.String,
  from: User,
  message: Schema.optional(Message),
  data: Schema.optional(Schema.String)
})
export type CallbackQuery = typeof CallbackQuery.Type

export const Update = Schema.Struct({
  update_id: Schema.Number.check(Schema.isInt()),
  message: Schema.optional(Message),
  callback_query: Schema.optional(CallbackQuery)
})
export type Update = typeof Update.Type

export const InlineKeyboard = Schema.Struct({
  inline_keyboard: Schema.Array(Schema.Array(Schema.Struct({
    text: Schema.String,
    callback_data: Schema.optional(Schema.String)
  })))
})

/** The first unsupported kind the message carries, as words ("photos"), if any. */
export const unsupportedKind = (message: Message): string | undefined => {
  for (const [key, words] of Object.entries(UNSUPPORTED_KINDS)) {
    if (message[key as keyof typeof UNSUPPORTED_KINDS] !== undefined) return words
  }
  return undefined
}

/** `Ann (@ann)` / `Ann` / `id 42`: who wrote, for the agent's context. */
export const senderOf = (message: Message): string | undefined => {
  const from = message.from
  if (from === undefined) return undefined
  const name = from.first_name ?? `id ${from.id}`
  return from.username !== undefined ? `${name} (@${from.username})` : name
}
