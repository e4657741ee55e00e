// Job output is scrubbed of every secret the daemon knows before it is stored (GET /v1/jobs),
// relayed to the chat or shown to the model: a program that prints a token it found (a config
// file, a credentials file, its own environment) must not put it into a conversation. Pure.

export const REDACTED = "[redacted]"

/** Secrets shorter than this are not scrubbed (they would match ordinary text); config refuses such tokens. */
export const MIN_SECRET = 6
/** A secret cut off at the start or end of the kept tail still leaks this much: scrub the fragment too. */
const MIN_FRAGMENT = 6

/** `text` with each secret (and its JSON- and URL-encoded forms) replaced by `[redacted]`. */
export const scrubSecrets = (text: string, secrets: ReadonlyArray<string>): string => {
  const forms = new Set<string>()
  for (const s of secrets) {
    if (s.length < MIN_SECRET) continue
    forms.add(s)
    forms.add(JSON.stringify(s).slice(1, -1))
    forms.add(encodeURIComponent(s))
  }
  // Longest first: a secret that contains another is replaced whole.
  const ordered = [...forms].sort((a, b) => b.length - a.length)
  let out = text
  for (const form of ordered) if (out.includes(form)) out = out.split(form).join(REDACTED)
  // The output tail may begin inside a secret, or a killed program may have printed half of one.
  for (const s of ordered) {
    for (let n = s.length - 1; n >= MIN_FRAGMENT; n--) {
      if (out.startsWith(s.slice(-n))) {
        out = REDACTED + out.slice(n)
        break
      }
    }
    for (let n = s.length - 1; n >= MIN_FRAGMENT; n--) {
      if (out.endsWith(s.slice(0, n))) {
        out = out.slice(0, out.length - n) + REDACTED
        break
      }
    }
  }
  return out
}
