// Webhook authentication, over the raw body bytes: GitHub's `X-Hub-Signature-256: sha256=<hex>`,
// a plain HMAC-SHA256 hex digest in a configurable header (with or without `sha256=`), or a
// header equal to the secret. Comparisons are constant-time. Pure (node:crypto only).
import { createHmac, timingSafeEqual } from "node:crypto"

export type SignatureKind = "github" | "hmac-sha256" | "token"

export type Verdict = "ok" | "missing" | "mismatch"

const same = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b)

export const hmacHex = (secret: string, body: Uint8Array): string =>
  createHmac("sha256", secret).update(body).digest("hex")

export const verifySignature = (
  kind: SignatureKind,
  secret: string,
  body: Uint8Array,
  headerValue: string | undefined
): Verdict => {
  if (headerValue === undefined || headerValue.trim() === "") return "missing"
  const given = headerValue.trim()
  if (kind === "token") return same(Buffer.from(given), Buffer.from(secret)) ? "ok" : "mismatch"
  const hex = kind === "github"
    ? (given.startsWith("sha256=") ? given.slice(7) : undefined)
    : given.replace(/^sha256=/, "")
  if (hex === undefined || !/^[0-9a-f]{64}$/i.test(hex)) return "mismatch"
  return same(Buffer.from(hex.toLowerCase(), "hex"), Buffer.from(hmacHex(secret, body), "hex")) ? "ok" : "mismatch"
}

// ---------- payload → event text ----------

const MAX_VALUE = 300

/** The value at a dotted path (`repository.full_name`, `commits.0.id`), as short text. */
export const valueAt = (payload: unknown, path: string): string | undefined => {
  let v: unknown = payload
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined
    v = (v as Record<string, unknown>)[key]
  }
  if (v === undefined) return undefined
  const text = typeof v === "string" ? v : JSON.stringify(v)
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE)}…` : text
}

/**
 * The event text of a delivery: the template with `{{path}}` filled (a missing value shows as
 * `?`), or one `path: value` line per field, or the first 500 characters of the payload.
 */
export const eventText = (payload: unknown, template: string | undefined, fields: ReadonlyArray<string>): string => {
  if (template !== undefined) return template.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, path: string) => valueAt(payload, path) ?? "?")
  if (fields.length > 0) return fields.map((f) => `${f}: ${valueAt(payload, f) ?? "?"}`).join("\n")
  const whole = JSON.stringify(payload)
  return whole.length > 500 ? `${whole.slice(0, 500)}…` : whole
}
