// Who may talk to the agent through Slack, and where the bot may write. Deny by default, both ways.
// A listed channel: everyone in it may talk to the agent, and the bot writes there. A listed user:
// may talk to it in a DM or in any channel the bot is in; the bot writes back to a conversation
// such a user wrote in (remembered, bounded) and to DMs with such a user (looked up once with
// conversations.info, so a notify to a DM works after a restart too).
import { Effect } from "effect"
import type { SlackApi } from "./SlackApi.ts"

export interface Allowlist {
  /** May this message (or button press) reach the agent? Remembers the conversation of an allowed user. */
  readonly inbound: (channel: string, user: string | undefined) => boolean
  /** May the bot write to this conversation? */
  readonly outbound: (channel: string) => Effect.Effect<boolean>
}

const remember = (map: Map<string, boolean>, key: string, value: boolean, capacity: number) => {
  map.delete(key)
  map.set(key, value)
  if (map.size > capacity) map.delete(map.keys().next().value!)
}

export const makeAllowlist = (options: {
  readonly channels: ReadonlyArray<string>
  readonly users: ReadonlyArray<string>
  readonly api: SlackApi["Service"]
  readonly capacity?: number
}): Allowlist => {
  const channels = new Set(options.channels)
  const users = new Set(options.users)
  const capacity = options.capacity ?? 1000
  const spoken = new Map<string, boolean>()
  const dms = new Map<string, boolean>()

  const inbound = (channel: string, user: string | undefined) => {
    if (channels.has(channel)) return true
    if (user === undefined || !users.has(user)) return false
    remember(spoken, channel, true, capacity)
    return true
  }

  const dmWithAllowedUser = (channel: string) =>
    Effect.gen(function*() {
      const known = dms.get(channel)
      if (known !== undefined) return known
      const info = yield* options.api.call("conversations.info", { channel }).pipe(Effect.option)
      if (info._tag === "None") return false // not cached: a failed lookup may succeed later
      const c = info.value["channel"] as { is_im?: unknown; user?: unknown } | undefined
      const allowed = c?.is_im === true && typeof c.user === "string" && users.has(c.user)
      remember(dms, channel, allowed, capacity)
      return allowed
    })

  const outbound = (channel: string) =>
    Effect.suspend(() => {
      if (channels.has(channel) || spoken.has(channel)) return Effect.succeed(true)
      return channel.startsWith("D") && users.size > 0 ? dmWithAllowedUser(channel) : Effect.succeed(false)
    })

  return { inbound, outbound }
}
