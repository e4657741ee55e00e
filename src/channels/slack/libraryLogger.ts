// The Slack libraries log to the console by default, which would break the daemon's one-JSON-object-
// per-line logs. This logger hands their warnings and errors to a sink (the channel logs them through
// Effect) and drops the rest; the channel logs its own connection states. Pure.

export type LogSink = (level: "warn" | "error", text: string) => void

/** A @slack/logger Logger (structurally: the libraries only call these methods). */
export const libraryLogger = (name: string, sink: LogSink = () => {}) => {
  let level = "warn"
  const text = (msg: ReadonlyArray<unknown>) => `${name}: ${msg.map((m) => (m instanceof Error ? m.message : String(m))).join(" ")}`
  return {
    debug: () => {},
    info: () => {},
    warn: (...msg: Array<unknown>) => sink("warn", text(msg)),
    error: (...msg: Array<unknown>) => sink("error", text(msg)),
    setLevel: (l: string) => {
      level = l
    },
    getLevel: () => level as never,
    setName: () => {}
  }
}
