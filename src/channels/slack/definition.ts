// The Slack channel as the gateway lists it: on when a Slack token is set (see config/slack.ts).
import type { ChannelDefinition } from "../Channel.ts"
import { slackEnabled } from "../../config/slack.ts"
import { SLACK_LIMIT } from "./chunk.ts"
import { SlackChannel } from "./SlackChannel.ts"

export const slack: ChannelDefinition = {
  name: "slack",
  traits: { renders: "Markdown (sent as Slack mrkdwn)", maxChars: SLACK_LIMIT, buttons: true },
  enabled: (settings) => slackEnabled(settings.slack),
  layer: SlackChannel.layer
}
