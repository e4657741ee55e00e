// Telegram sources and targets: `telegram:<chat id>` and, for forum topics,
// `telegram:<chat id>:topic:<thread id>`. Pure.

export interface ChatAddress {
  readonly chatId: number
  readonly threadId?: number | undefined
}

export const sourceOf = (address: ChatAddress): string =>
  address.threadId === undefined
    ? `telegram:${address.chatId}`
    : `telegram:${address.chatId}:topic:${address.threadId}`

export const parseTarget = (target: string): ChatAddress | undefined => {
  const m = /^telegram:(-?\d{1,20})(?::topic:(\d{1,12}))?$/.exec(target)
  if (m === null) return undefined
  const chatId = Number(m[1])
  if (!Number.isSafeInteger(chatId)) return undefined
  return m[2] === undefined ? { chatId } : { chatId, threadId: Number(m[2]) }
}

/** Fields of a Bot API call that address this chat (and topic). */
export const addressFields = (address: ChatAddress) => ({
  chat_id: address.chatId,
  ...(address.threadId !== undefined ? { message_thread_id: address.threadId } : {})
})
