// The parts of Slack's Socket Mode envelopes and their payloads the channel reads, as Schema:
// everything Slack sends is untrusted input. Unknown fields are ignored; what does not decode is
// acknowledged (so Slack does not send it again), logged and counted.
import { Schema } from "effect"

const optionalString = Schema.optional(Schema.String)

export const Envelope = Schema.Struct({
  envelope_id: Schema.String,
  type: Schema.String,
  payload: Schema.optional(Schema.Unknown),
  retry_attempt: Schema.optional(Schema.Number),
  retry_reason: optionalString
})
export type Envelope = typeof Envelope.Type

/** A slash command (`/stop`, `/status`, `/new`) as Socket Mode delivers it. */
export const SlashCommand = Schema.Struct({
  command: Schema.String,
  channel_id: Schema.String,
  user_id: Schema.String
})
export type SlashCommand = typeof SlashCommand.Type

export const EventCallback = Schema.Struct({
  type: Schema.Literal("event_callback"),
  event_id: optionalString,
  event: Schema.Struct({ type: Schema.String })
})

/** A `message` (message.im, message.channels, …) or `app_mention` event. */
export const MessageEvent = Schema.Struct({
  type: Schema.Literals(["message", "app_mention"]),
  channel: Schema.String,
  ts: Schema.String,
  user: optionalString,
  bot_id: optionalString,
  subtype: optionalString,
  text: optionalString,
  thread_ts: optionalString,
  channel_type: optionalString,
  files: Schema.optional(Schema.Array(Schema.Unknown))
})
export type MessageEvent = typeof MessageEvent.Type

export const BlockActions = Schema.Struct({
  type: Schema.Literal("block_actions"),
  user: Schema.Struct({ id: Schema.String }),
  channel: Schema.optional(Schema.Struct({ id: Schema.String })),
  container: Schema.optional(Schema.Struct({ channel_id: optionalString, message_ts: optionalString, thread_ts: optionalString })),
  message: Schema.optional(Schema.Struct({
    ts: Schema.String,
    text: optionalString,
    thread_ts: optionalString,
    blocks: Schema.optional(Schema.Array(Schema.Unknown))
  })),
  actions: Schema.Array(Schema.Struct({
    action_id: Schema.String,
    value: optionalString,
    action_ts: optionalString
  }))
})
export type BlockActions = typeof BlockActions.Type

/** Subtypes that are a person writing; every other subtype (edits, joins, bots) is not a message for the agent. */
export const PERSON_SUBTYPES: ReadonlyArray<string | undefined> = [undefined, "thread_broadcast", "file_share"]
