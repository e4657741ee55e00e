// Control commands a person can send on any channel. Pure parsing.
export type ControlCommand = "stop" | "status" | "new"

/** `/stop`, `/status`, `/new` (Telegram may append `@botname`). Anything else is a message. */
export const parseControl = (text: string): ControlCommand | undefined => {
  const m = /^\/(stop|status|new)(@\w+)?$/i.exec(text.trim())
  return m ? (m[1]!.toLowerCase() as ControlCommand) : undefined
}
