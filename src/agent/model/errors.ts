// Every way a chat/completions request fails, as an AiError: timeouts (tagged so the fallback can
// tell them apart), invalid answers, transport failures and HTTP error statuses.
import { Duration, Option, Schema } from "effect"
import { AiError } from "effect/ai"
import type { EndpointConfig } from "./endpoint.ts"
import { ErrorBody } from "./wire.ts"

const MODULE = "ChatCompletions"

export type TimeoutKind = "first-token" | "total"

/** Timeouts are InternalProviderErrors tagged in their metadata, so the fallback can tell them apart. */
export const timeoutError = (config: EndpointConfig, kind: TimeoutKind, started: boolean) =>
  AiError.make({
    module: MODULE,
    method: config.label,
    reason: new AiError.InternalProviderError({
      description: kind === "first-token"
        ? `no first token from ${config.model} within ${Duration.format(config.firstTokenTimeout)}`
        : `${config.model} did not finish within ${Duration.format(config.requestTimeout)}`,
      metadata: { switchboardTimeout: kind, started }
    })
  })

export const timeoutKindOf = (e: AiError.AiError): { kind: TimeoutKind; started: boolean } | undefined => {
  if (e.reason._tag !== "InternalProviderError") return undefined
  const m = e.reason.metadata as Record<string, unknown>
  const kind = m["switchboardTimeout"]
  return kind === "first-token" || kind === "total" ? { kind, started: m["started"] === true } : undefined
}

export const invalid = (config: EndpointConfig, description: string) =>
  AiError.make({ module: MODULE, method: config.label, reason: new AiError.InvalidResponseError({ description }) })

export const invalidFromSchema = (config: EndpointConfig, e: Schema.SchemaError) =>
  AiError.make({ module: MODULE, method: config.label, reason: AiError.InvalidResponseError.fromSchemaError(e) })

export const network = (config: EndpointConfig, url: string, description: string) =>
  AiError.make({
    module: MODULE,
    method: config.label,
    reason: new AiError.NetworkError({ reason: "TransportError", method: "POST", url, description })
  })

export const parseJson = (text: string): Option.Option<unknown> => {
  try {
    return Option.some(JSON.parse(text) as unknown)
  } catch {
    return Option.none()
  }
}

/** An HTTP error status as an AiError; 429 keeps the wait the provider asked for. */
export const statusError = (config: EndpointConfig, status: number, bodyText: string, waitMs: number | undefined) => {
  const decoded = Option.flatMap(parseJson(bodyText), Schema.decodeUnknownOption(ErrorBody))
  const message = Option.match(decoded, { onNone: () => bodyText.slice(0, 300), onSome: (b) => b.error.message ?? "" })
  const http = { response: { status, headers: {} }, body: bodyText.slice(0, 2000) }
  const reason = status === 429
    ? new AiError.RateLimitError({ ...(waitMs !== undefined ? { retryAfter: Duration.millis(waitMs) } : {}), http })
    : AiError.reasonFromHttpStatus({ status, body: bodyText.slice(0, 2000), http, description: `${status}: ${message}` })
  return AiError.make({ module: MODULE, method: config.label, reason })
}

/** An error reported inside a stream: `{ error: { message, code } }` or vLLM's `{ object: "error" }`. */
export const streamError = (json: unknown): { readonly status: number } | undefined => {
  if (typeof json !== "object" || json === null) return undefined
  const o = json as { readonly error?: unknown; readonly object?: unknown; readonly code?: unknown }
  const detail = typeof o.error === "object" && o.error !== null ? (o.error as { readonly code?: unknown }) : undefined
  if (detail === undefined && o.object !== "error") return undefined
  const code = detail?.code ?? o.code
  const status = typeof code === "number" && code >= 400 && code < 600 ? code : 502
  return { status }
}
