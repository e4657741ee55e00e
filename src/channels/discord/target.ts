// Discord sources and targets: `discord:<channel id>` for guild channels and DMs,
// `discord:<channel id>:thread:<thread id>` for threads (a thread is a channel of its own; its
// messages are sent to the thread id). Ids are snowflakes, kept as strings. Pure.

export interface DiscordAddress {
  readonly channelId: string
  readonly threadId?: string | undefined
}

const SNOWFLAKE = /^\d{1,20}$/

export const isSnowflake = (s: string): boolean => SNOWFLAKE.test(s)

export const sourceOf = (address: DiscordAddress): string =>
  address.threadId === undefined
    ? `discord:${address.channelId}`
    : `discord:${address.channelId}:thread:${address.threadId}`

export const parseTarget = (target: string): DiscordAddress | undefined => {
  const m = /^discord:(\d{1,20})(?::thread:(\d{1,20}))?$/.exec(target)
  if (m === null) return undefined
  return m[2] === undefined ? { channelId: m[1]! } : { channelId: m[1]!, threadId: m[2] }
}

/** The channel a message to this address is posted in: the thread, if there is one. */
export const postChannel = (address: DiscordAddress): string => address.threadId ?? address.channelId
