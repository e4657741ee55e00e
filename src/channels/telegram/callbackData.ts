// Inline-keyboard buttons carry `callback_data` of at most 64 bytes. An answer button names its
// question and the option's index: `q|<question id>|<index>`. A question id too long for that is
// replaced by a short reference the channel keeps (`r|<ref>|<index>`). Pure.

export const CALLBACK_DATA_LIMIT = 64

export type AnswerButton =
  | { readonly _tag: "Question"; readonly questionId: string; readonly index: number }
  | { readonly _tag: "Ref"; readonly ref: string; readonly index: number }

const bytes = (s: string) => Buffer.byteLength(s, "utf8")

/** Direct encoding, or undefined when the id does not fit (or contains the separator). */
export const encodeAnswer = (questionId: string, index: number): string | undefined => {
  const data = `q|${questionId}|${index}`
  return questionId.includes("|") || bytes(data) > CALLBACK_DATA_LIMIT ? undefined : data
}

export const encodeRef = (ref: string, index: number): string => `r|${ref}|${index}`

export const decodeAnswer = (data: string | undefined): AnswerButton | undefined => {
  if (data === undefined || bytes(data) > CALLBACK_DATA_LIMIT) return undefined
  const m = /^([qr])\|([^|]+)\|(\d{1,3})$/.exec(data)
  if (m === null) return undefined
  const index = Number(m[3])
  return m[1] === "q" ? { _tag: "Question", questionId: m[2]!, index } : { _tag: "Ref", ref: m[2]!, index }
}
