// Slack's request signing for HTTP events: `X-Slack-Signature: v0=<hex HMAC-SHA256 of
// "v0:<X-Slack-Request-Timestamp>:<raw body>" with the signing secret>`. A request older or newer
// than five minutes is refused, so a captured request cannot be replayed later. Pure.
import { createHmac, timingSafeEqual } from "node:crypto"

export const MAX_SKEW_SECONDS = 5 * 60

export type SignatureCheck = "ok" | "missing" | "stale" | "mismatch"

export const signatureOf = (secret: string, timestamp: string, body: string) =>
  `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`

export const checkSignature = (options: {
  readonly secret: string
  readonly timestamp: string | undefined
  readonly signature: string | undefined
  readonly body: string
  readonly nowSeconds: number
}): SignatureCheck => {
  const { timestamp, signature } = options
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) return "missing"
  if (Math.abs(options.nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return "stale"
  const expected = Buffer.from(signatureOf(options.secret, timestamp, options.body))
  const given = Buffer.from(signature)
  return expected.length === given.length && timingSafeEqual(expected, given) ? "ok" : "mismatch"
}
