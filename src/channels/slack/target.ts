// Slack sources and targets: `slack:<channel id>` and, for a thread, `slack:<channel id>:thread:<ts>`
// (the ts of the thread's first message). Pure.

export interface SlackAddress {
  readonly channel: string
  readonly threadTs?: string | undefined
}

const CHANNEL_ID = /^[CDGZ][A-Z0-9]{2,30}$/
const TS = /^\d{1,12}\.\d{1,8}$/

export const isChannelId = (s: string) => CHANNEL_ID.test(s)
export const isTs = (s: string) => TS.test(s)

export const sourceOf = (address: SlackAddress): string =>
  address.threadTs === undefined ? `slack:${address.channel}` : `slack:${address.channel}:thread:${address.threadTs}`

export const parseTarget = (target: string): SlackAddress | undefined => {
  const m = /^slack:([A-Z0-9]+)(?::thread:([\d.]+))?$/.exec(target)
  if (m === null || !isChannelId(m[1]!)) return undefined
  if (m[2] === undefined) return { channel: m[1]! }
  return isTs(m[2]) ? { channel: m[1]!, threadTs: m[2] } : undefined
}

/** Fields of chat.postMessage that address this channel (and thread). */
export const addressFields = (address: SlackAddress) => ({
  channel: address.channel,
  ...(address.threadTs !== undefined ? { thread_ts: address.threadTs } : {})
})
