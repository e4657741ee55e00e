// The Slack channel's settings (see the README's "Slack" section). On when SLACK_BOT_TOKEN is set
// together with SLACK_APP_TOKEN (Socket Mode).
import { Config, Option } from "effect"
import { commaList, duration, httpUrl, optionalSecret } from "./values.ts"

export const slackSettings = Config.all({
  botToken: optionalSecret("SLACK_BOT_TOKEN"),
  /** App-level token (`xapp-…`, scope connections:write): Socket Mode, no public URL needed. */
  appToken: optionalSecret("SLACK_APP_TOKEN"),
  /** The Web API root; Socket Mode's URL comes from its apps.connections.open. */
  apiRoot: httpUrl("SLACK_API_ROOT", "https://slack.com/api"),
  allowedChannelIds: commaList("SLACK_ALLOWED_CHANNEL_IDS"),
  allowedUserIds: commaList("SLACK_ALLOWED_USER_IDS"),
  /** Longest wait for `hello` after opening a Socket Mode connection. */
  connectTimeout: duration("SLACK_CONNECT_TIMEOUT", "30 seconds")
})

export type SlackSettings = Config.Success<typeof slackSettings>

/** The channel runs when a Slack token is set; it then needs both, and says which one is missing. */
export const slackEnabled = (s: SlackSettings): boolean => Option.isSome(s.botToken) || Option.isSome(s.appToken)
