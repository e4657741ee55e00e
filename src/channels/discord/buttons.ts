// `ask` as Discord message components: one button per option (rows of five, at most 25), each
// button's custom_id naming the question and the option. Discord caps custom_id at 100 and a label
// at 80 characters; a question that does not fit gets no buttons and is answered by typing. Pure.

export const MAX_BUTTONS = 25
const PER_ROW = 5
const MAX_LABEL = 80
const MAX_CUSTOM_ID = 100

/** Discord's component types and button styles (the values its API documents). */
const ACTION_ROW = 1
const BUTTON = 2
export const STYLE_PRIMARY = 1
export const STYLE_SECONDARY = 2
export const STYLE_SUCCESS = 3

export interface Button {
  readonly type: 2
  readonly style: number
  readonly label: string
  readonly custom_id: string
  readonly disabled?: boolean
}

export interface ActionRow {
  readonly type: 1
  readonly components: ReadonlyArray<Button>
}

export interface AnswerButton {
  readonly questionId: string
  readonly index: number
}

const PREFIX = "sb:ask:"

export const encodeAnswer = (questionId: string, index: number): string | undefined => {
  const id = `${PREFIX}${questionId}:${index}`
  return id.length <= MAX_CUSTOM_ID ? id : undefined
}

export const decodeAnswer = (customId: string): AnswerButton | undefined => {
  const m = /^sb:ask:(.+):(\d{1,2})$/.exec(customId)
  return m === null ? undefined : { questionId: m[1]!, index: Number(m[2]) }
}

const label = (text: string) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length <= MAX_LABEL ? flat : `${flat.slice(0, MAX_LABEL - 1)}…`
}

/** The buttons for a question, or undefined when its options cannot be buttons. */
export const questionRows = (questionId: string, options: ReadonlyArray<string>): Array<ActionRow> | undefined => {
  if (options.length === 0 || options.length > MAX_BUTTONS) return undefined
  const buttons: Array<Button> = []
  for (const [i, option] of options.entries()) {
    const id = encodeAnswer(questionId, i)
    const text = label(option)
    if (id === undefined || text === "") return undefined
    buttons.push({ type: BUTTON, style: STYLE_PRIMARY, label: text, custom_id: id })
  }
  const rows: Array<ActionRow> = []
  for (let i = 0; i < buttons.length; i += PER_ROW) rows.push({ type: ACTION_ROW, components: buttons.slice(i, i + PER_ROW) })
  return rows
}

/** The same buttons, all disabled; the chosen one (if any) green, the others grey. */
export const answeredRows = (rows: ReadonlyArray<ActionRow>, chosen: number | undefined): Array<ActionRow> =>
  rows.map((row) => ({
    type: ACTION_ROW,
    components: row.components.map((b) => ({
      ...b,
      disabled: true,
      style: decodeAnswer(b.custom_id)?.index === chosen ? STYLE_SUCCESS : STYLE_SECONDARY
    }))
  }))
