// Quiet hours (`23:00-07:00` in a time zone): whether an instant falls inside them, and how long
// until they end. Minute arithmetic on the local wall clock; Intl knows the zone's offsets. Pure.

export interface QuietHours {
  /** Minutes after local midnight. */
  readonly start: number
  readonly end: number
  readonly timeZone: string
}

export const parseQuietHours = (range: string, timeZone: string): QuietHours | undefined => {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(range)
  if (m === null) return undefined
  const start = Number(m[1]) * 60 + Number(m[2])
  const end = Number(m[3]) * 60 + Number(m[4])
  if (start === end || start >= 1440 || end >= 1440) return undefined
  return { start, end, timeZone }
}

/** Milliseconds since local midnight in `timeZone` at `now`. */
export const localMsOfDay = (now: number, timeZone: string): number => {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hourCycle: "h23",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit"
  }).formatToParts(new Date(now))
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0)
  return ((get("hour") * 60 + get("minute")) * 60 + get("second")) * 1000 + (now % 1000 + 1000) % 1000
}

const DAY = 24 * 60 * 60 * 1000

const inside = (q: QuietHours, msOfDay: number) => {
  const start = q.start * 60_000
  const end = q.end * 60_000
  return start < end ? msOfDay >= start && msOfDay < end : msOfDay >= start || msOfDay < end
}

export const isQuiet = (q: QuietHours | undefined, now: number): boolean =>
  q !== undefined && inside(q, localMsOfDay(now, q.timeZone))

/** 0 outside quiet hours; otherwise the time until they end (a DST change may move it by an hour). */
export const msUntilQuietEnds = (q: QuietHours | undefined, now: number): number => {
  if (q === undefined) return 0
  const local = localMsOfDay(now, q.timeZone)
  if (!inside(q, local)) return 0
  return (q.end * 60_000 - local + DAY) % DAY
}

/** `14:02` in the zone (for alerts and digests). */
export const clockTime = (timeZone: string) => {
  const format = new Intl.DateTimeFormat("en-GB", { timeZone, hourCycle: "h23", hour: "2-digit", minute: "2-digit" })
  return (ms: number) => format.format(new Date(ms))
}
