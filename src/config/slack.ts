// The Slack channel's settings (see the README's "Slack" section). On when SLACK_BOT_TOKEN is set
// together with SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP events).
import { Config, Option, Schema } from "effect"
import { commaList, duration, httpUrl, optionalSecret } from "./values.ts"

export const slackSettings = Config.all({
  botToken: optionalSecret("SLACK_BOT_TOKEN"),
  /** App-level token (`xapp-…`, scope connections:write): Socket Mode, no public URL needed. */
  appToken: optionalSecret("SLACK_APP_TOKEN"),
  /** The Web API root; Socket Mode's URL comes from its apps.connections.open. */
  apiRoot: httpUrl("SLACK_API_ROOT", "https://slack.com/api"),
  allowedChannelIds: commaList("SLACK_ALLOWED_CHANNEL_IDS"),
  allowedUserIds: commaList("SLACK_ALLOWED_USER_IDS"),
  /** HTTP events: requests to SLACK_EVENTS_PATH on the daemon's server are checked with this secret. */
  signingSecret: optionalSecret("SLACK_SIGNING_SECRET"),
  eventsPath: Config.schema(
    Schema.String.check(Schema.isPattern(/^\/[\w\-./]*$/, { expected: "a path such as /slack/events" })),
    "SLACK_EVENTS_PATH"
  ).pipe(Config.withDefault("/slack/events")),
  /** Longest wait for `hello` after opening a Socket Mode connection. */
  connectTimeout: duration("SLACK_CONNECT_TIMEOUT", "30 seconds")
})

export type SlackSettings = Config.Success<typeof slackSettings>

/**
 * The channel runs when a Slack token is set; it then needs the bot token and a way to receive
 * events (the app token, or the signing secret), and says which one is missing.
 */
export const slackEnabled = (s: SlackSettings): boolean => Option.isSome(s.botToken) || Option.isSome(s.appToken)
