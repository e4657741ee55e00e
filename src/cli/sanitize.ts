// What the daemon sends is text from the model, from chats and from programs: before the CLI prints
// it, terminal control sequences go (an `ESC ]0;` title change, a screen clear, a cursor move, a
// bell) so a reply cannot take over the operator's terminal. Newlines and tabs stay. Pure.

// CSI (ESC [ … final), OSC (ESC ] … BEL or ST), DCS/SOS/PM/APC (ESC P|X|^|_ … ST), two-byte ESC
// sequences, then C1 controls and the C0 ones other than \t and \n (a lone \r could overwrite a line).
const SEQUENCES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -~]?|\x9b[0-?]*[ -/]*[@-~]|\x9d[^\x07\x9c]*[\x07\x9c]?/g
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g

export const stripControl = (text: string): string => text.replace(SEQUENCES, "").replace(CONTROLS, "")

/** Every string inside a JSON value, stripped (keys too). */
export const stripControlDeep = (value: unknown): unknown => {
  if (typeof value === "string") return stripControl(value)
  if (Array.isArray(value)) return value.map(stripControlDeep)
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [stripControl(k), stripControlDeep(v)]))
  }
  return value
}
