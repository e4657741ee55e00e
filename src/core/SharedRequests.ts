// In a cluster a request's turn may run on another daemon than the one that accepted it: its
// status and reply are also written where every daemon can read them (GET /v1/messages/:id).
import { Context, type Effect } from "effect"
import type { RequestRecord } from "./requestRecord.ts"

export class SharedRequests extends Context.Service<SharedRequests, {
  readonly write: (record: RequestRecord) => Effect.Effect<void>
  readonly read: (id: string) => Effect.Effect<RequestRecord | undefined>
}>()("switchboard/SharedRequests") {}
