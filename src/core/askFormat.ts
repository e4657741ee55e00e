// Multiple-choice questions as text (channels without buttons) and matching a free-text answer
// back to an option. Pure.

export const formatQuestion = (question: string, options: ReadonlyArray<string>): string =>
  [question, ...options.map((o, i) => `${i + 1}. ${o}`), "Reply with a number or the option's text."].join("\n")

/** "2", "2.", "option text" (any case) → that option; anything else is a free answer. */
export const matchAnswer = (
  options: ReadonlyArray<string>,
  answer: string
): { readonly answer: string; readonly optionIndex?: number | undefined } => {
  const text = answer.trim()
  const n = /^(\d+)[.)]?$/.exec(text)
  if (n) {
    const i = Number(n[1]) - 1
    if (i >= 0 && i < options.length) return { answer: options[i]!, optionIndex: i }
  }
  const i = options.findIndex((o) => o.trim().toLowerCase() === text.toLowerCase())
  return i >= 0 ? { answer: options[i]!, optionIndex: i } : { answer: text }
}
