// One HTTP request from a test: status, headers and the body (parsed as JSON when it is JSON).
import { Effect } from "effect"

export const httpCall = (url: string, init: RequestInit = {}) =>
  Effect.promise(async () => {
    const res = await fetch(url, init)
    const text = await res.text()
    let body: any = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON (a page, metrics)
    }
    return { status: res.status, body, headers: res.headers }
  })
