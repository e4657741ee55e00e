// What is known of one accepted request (GET /v1/messages/:id): kept by RequestLog, shared in a
// cluster through SharedRequests. Types only.
export type RequestStatus = "queued" | "running" | "done" | "failed"

export interface RequestRecord {
  readonly id: string
  readonly source: string
  readonly status: RequestStatus
  readonly reply?: string | undefined
  readonly error?: string | undefined
  readonly receivedAt: number
  readonly startedAt?: number | undefined
  readonly finishedAt?: number | undefined
}
