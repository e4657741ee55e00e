// Inline-keyboard answers for `ask`: which question each button answers and which chat it was
// asked in. Kept for the most recent questions only; an older button gets the "no longer open"
// answer, which is also what the Questions service says about it by then.
import { type AnswerButton, encodeAnswer, encodeRef } from "./callbackData.ts"

export interface AskedQuestion {
  readonly questionId: string
  readonly source: string
  readonly options: ReadonlyArray<string>
}

/** Where a question's keyboard was sent, so it can be removed once the question is answered. */
export interface KeyboardMessage {
  readonly chatId: number
  readonly messageId: number
}

export interface QuestionButtons {
  /** Remember a question sent to `source`; returns the inline keyboard for it. */
  readonly keyboard: (question: AskedQuestion) => { readonly inline_keyboard: ReadonlyArray<ReadonlyArray<{ text: string; callback_data: string }>> }
  /** The question a button answers: known (with its chat), or only its id (e.g. asked before a restart). */
  readonly resolve: (button: AnswerButton) => { readonly questionId: string; readonly asked?: AskedQuestion | undefined } | undefined
  /** The keyboard of `questionId` was sent as this message. */
  readonly sent: (questionId: string, at: KeyboardMessage) => void
  /** Where the keyboard of `questionId` is, once: whoever takes it removes it. */
  readonly takeSent: (questionId: string) => KeyboardMessage | undefined
}

export const makeQuestionButtons = (capacity = 256): QuestionButtons => {
  const byId = new Map<string, AskedQuestion & { readonly ref: string }>()
  const byRef = new Map<string, string>()
  const messages = new Map<string, KeyboardMessage>()
  let nextRef = 0

  const keyboard = (question: AskedQuestion) => {
    const ref = (nextRef++).toString(36)
    byId.delete(question.questionId)
    byId.set(question.questionId, { ...question, ref })
    byRef.set(ref, question.questionId)
    while (byId.size > capacity) {
      const [oldest, entry] = byId.entries().next().value!
      byId.delete(oldest)
      byRef.delete(entry.ref)
      messages.delete(oldest)
    }
    return {
      inline_keyboard: question.options.map((text, i) => [{
        text,
        callback_data: encodeAnswer(question.questionId, i) ?? encodeRef(ref, i)
      }])
    }
  }

  const resolve = (button: AnswerButton) => {
    const questionId = button._tag === "Question" ? button.questionId : byRef.get(button.ref)
    return questionId === undefined ? undefined : { questionId, asked: byId.get(questionId) }
  }

  const sent = (questionId: string, at: KeyboardMessage) => {
    if (byId.has(questionId)) messages.set(questionId, at)
  }
  const takeSent = (questionId: string) => {
    const at = messages.get(questionId)
    messages.delete(questionId)
    return at
  }

  return { keyboard, resolve, sent, takeSent }
}
