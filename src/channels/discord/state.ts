// What the channel remembers while it runs, all of it bounded: who wrote each recent message (so a
// question's buttons answer only its asker, and replies can quote the message), where the bot may
// write back, the newest message seen per channel (to catch up after a lost session), where each
// question's buttons are, and interactions still to be answered. Created inside the channel's Layer.
import type { ActionRow } from "./buttons.ts"
import type { AccessLists } from "./policy.ts"
import { makeRecent, type Recent } from "../recent.ts"
import { emptyStats, type DiscordStats } from "./stats.ts"

export interface Author {
  readonly userId: string
  readonly channelId: string
  readonly messageId: string | undefined
}

export interface AskedQuestion {
  readonly source: string
  readonly channelId: string
  readonly options: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ActionRow>
  /** Who may press: the person whose message started the turn (any allowed user when unknown). */
  readonly askerId: string | undefined
  messageId?: string | undefined
  content?: string | undefined
}

/** A slash command still to be answered: inline (answered already), or deferred (edit "thinking…"). */
export interface PendingInteraction {
  readonly mode: "inline" | "deferred"
  readonly applicationId: string
  readonly token: string
}

export interface Me {
  readonly id: string
  readonly applicationId: string | undefined
}

export interface DiscordState {
  me: Me | undefined
  readonly stats: DiscordStats
  readonly lists: AccessLists
  /** Request id (`discord:<message id>`) → who wrote it, where. */
  readonly authors: Recent<string, Author>
  /** Sources where an allowed user addressed the bot outside the allowed channels: it may answer there. */
  readonly conversations: Recent<string, true>
  /** Channel (or thread) id → newest message id handled there. */
  readonly lastSeen: Recent<string, string>
  readonly questions: Recent<string, AskedQuestion>
  /** Request id → the slash command interaction it came from. */
  readonly interactions: Recent<string, PendingInteraction>
  /** Message ids already handled (gateway replays, catch-up overlap). */
  readonly seen: Recent<string, true>
  /** The empty-content warning (Message Content intent off) is logged once. */
  warnedEmpty: boolean
}

export const BOUNDS = {
  authors: 1000,
  conversations: 1000,
  lastSeen: 500,
  questions: 256,
  interactions: 256,
  seen: 5000,
  channelInfo: 1000
} as const

export const makeState = (lists: AccessLists): DiscordState => ({
  me: undefined,
  stats: emptyStats(),
  lists,
  authors: makeRecent(BOUNDS.authors),
  conversations: makeRecent(BOUNDS.conversations),
  lastSeen: makeRecent(BOUNDS.lastSeen),
  questions: makeRecent(BOUNDS.questions),
  interactions: makeRecent(BOUNDS.interactions),
  seen: makeRecent(BOUNDS.seen),
  warnedEmpty: false
})
