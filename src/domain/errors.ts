// Errors that cross service boundaries. Each says what went wrong in words a user can act on.
import { Schema } from "effect"

export class QueueFull extends Schema.TaggedError<QueueFull>()("QueueFull", {
  cap: Schema.Number
}) {
  override get message() {
    return `the queue is full (${this.cap} waiting); try again shortly`
  }
}

export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {}) {
  override get message() {
    return "switchboard is shutting down; send this again in a moment"
  }
}

/** Cluster mode: the request could not be stored for its session (Postgres unreachable, say). Not accepted. */
export class HandoffFailed extends Schema.TaggedError<HandoffFailed>()("HandoffFailed", {
  reason: Schema.String
}) {
  override get message() {
    return `could not store this for its session (${this.reason}); send it again in a moment`
  }
}

/** Cluster mode: the cluster's Postgres cannot be reached at start. */
export class ClusterUnavailable extends Schema.TaggedError<ClusterUnavailable>()("ClusterUnavailable", {
  database: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `the cluster's Postgres (${this.database}, SWITCHBOARD_CLUSTER_DATABASE_URL) does not answer: ${this.reason}`
  }
}

/** No agent is bound to the source (SWITCHBOARD_AGENTS_FILE): refused, never queued. */
export class Unbound extends Schema.TaggedError<Unbound>()("Unbound", {
  source: Schema.String
}) {
  override get message() {
    return `no agent is bound to ${this.source}`
  }
}

/** A session (agent + conversation) could not be opened, e.g. its memory is unreadable. */
export class SessionUnavailable extends Schema.TaggedError<SessionUnavailable>()("SessionUnavailable", {
  key: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `could not open the conversation ${this.key}: ${this.reason}`
  }
}

export class TurnFailed extends Schema.TaggedError<TurnFailed>()("TurnFailed", {
  reason: Schema.String,
  /** Text for the person whose message failed. */
  userMessage: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

export class UnknownTarget extends Schema.TaggedError<UnknownTarget>()("UnknownTarget", {
  target: Schema.String
}) {
  override get message() {
    return `no channel can deliver to "${this.target}"`
  }
}

export class SourceMismatch extends Schema.TaggedError<SourceMismatch>()("SourceMismatch", {
  target: Schema.String,
  source: Schema.String
}) {
  override get message() {
    return `refused to send to ${this.target} during a turn from ${this.source} without an explicit target`
  }
}

export class DeliveryFailed extends Schema.TaggedError<DeliveryFailed>()("DeliveryFailed", {
  target: Schema.String,
  reason: Schema.String,
  /** The channel asked us to wait this long (e.g. Telegram's retry_after). */
  retryAfterMs: Schema.optional(Schema.Number),
  /** Retrying cannot help (bot blocked, chat not found). */
  permanent: Schema.Boolean
}) {
  override get message() {
    return `delivery to ${this.target} failed: ${this.reason}`
  }
}

export type DeliveryError = UnknownTarget | SourceMismatch | DeliveryFailed
