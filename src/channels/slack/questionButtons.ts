// Block Kit buttons for `ask`: which question each button answers, in which conversation it was
// asked and for whom (the person whose message started the turn), and where the question was
// posted so its buttons can be removed once it is answered. Kept for the most recent questions
// only; an older button gets "no longer open", which is also what Questions says by then. Pure.

export interface AskedQuestion {
  readonly questionId: string
  readonly source: string
  readonly options: ReadonlyArray<string>
  /** The Slack user the question is for; anyone allowed in the conversation when unknown. */
  readonly askedBy?: string | undefined
}

export interface PostedQuestion {
  readonly channel: string
  readonly ts: string
  /** The question's mrkdwn, shown again when the buttons are replaced by the choice. */
  readonly text: string
}

/** Slack allows 25 elements per actions block and 75 characters per button label. */
const PER_BLOCK = 25
const LABEL_MAX = 75

export const ACTION_PREFIX = "sb_answer_"

export const encodeValue = (questionId: string, index: number) => `${questionId}|${index}`

export const decodeValue = (value: string | undefined): { questionId: string; index: number } | undefined => {
  const m = value === undefined ? null : /^([^|]{1,200})\|(\d{1,3})$/.exec(value)
  return m === null ? undefined : { questionId: m[1]!, index: Number(m[2]) }
}

const label = (text: string) => (text.length > LABEL_MAX ? `${text.slice(0, LABEL_MAX - 1)}…` : text)

export const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } })

/** The question's blocks: its text, then its options as buttons (in rows of at most 25). */
export const questionBlocks = (questionId: string, text: string, options: ReadonlyArray<string>) => {
  const rows: Array<unknown> = []
  for (let start = 0; start < options.length; start += PER_BLOCK) {
    rows.push({
      type: "actions",
      block_id: `sb_q_${start / PER_BLOCK}`,
      elements: options.slice(start, start + PER_BLOCK).map((option, i) => ({
        type: "button",
        action_id: `${ACTION_PREFIX}${start + i}`,
        text: { type: "plain_text", text: label(option), emoji: true },
        value: encodeValue(questionId, start + i)
      }))
    })
  }
  return [section(text), ...rows]
}

/** A message's blocks without its buttons, plus a line saying what happened. */
export const withoutButtons = (blocks: ReadonlyArray<unknown>, note: string) => [
  ...blocks.filter((b) => (b as { type?: unknown } | null)?.type !== "actions"),
  { type: "context", elements: [{ type: "mrkdwn", text: note }] }
]

export interface QuestionButtons {
  readonly remember: (question: AskedQuestion) => void
  readonly resolve: (questionId: string) => AskedQuestion | undefined
  readonly sent: (questionId: string, at: PostedQuestion) => void
  /** Where `questionId` was posted, once: whoever takes it removes the buttons. */
  readonly takeSent: (questionId: string) => PostedQuestion | undefined
}

export const makeQuestionButtons = (capacity = 256): QuestionButtons => {
  const asked = new Map<string, AskedQuestion>()
  const posted = new Map<string, PostedQuestion>()
  return {
    remember: (question) => {
      asked.delete(question.questionId)
      asked.set(question.questionId, question)
      while (asked.size > capacity) {
        const oldest = asked.keys().next().value!
        asked.delete(oldest)
        posted.delete(oldest)
      }
    },
    resolve: (questionId) => asked.get(questionId),
    sent: (questionId, at) => {
      if (asked.has(questionId)) posted.set(questionId, at)
    },
    takeSent: (questionId) => {
      const at = posted.get(questionId)
      posted.delete(questionId)
      return at
    }
  }
}
