// The Slack channel in the core graph, pointed at the fake Slack: the scripted session and test
// Questions of the Telegram harness, and the live @slack/web-api and @slack/socket-mode clients.
import { Duration, Layer, Option, Redacted } from "effect"
import { SlackApi } from "../../src/channels/slack/SlackApi.ts"
import { slack } from "../../src/channels/slack/definition.ts"
import { SlackChannel } from "../../src/channels/slack/SlackChannel.ts"
import { startChannel } from "../../src/layers/channels.ts"
import type { FakeSlack } from "./fakeSlack.ts"
import { type Patch, testCore } from "./telegramHarness.ts"

export const SLACK_CHANNELS = ["C111", "C222"]
export const SLACK_USERS = ["UANN"]

/** Settings for tests: the fake's API root and tokens, the allowed channels and users. */
export const slackSettings = (fake: FakeSlack, patch: Patch = (s) => s): Patch => (s) =>
  patch({
    ...s,
    slack: {
      ...s.slack,
      botToken: Option.some(Redacted.make(fake.botToken)),
      appToken: Option.some(Redacted.make(fake.appToken)),
      apiRoot: fake.apiRoot,
      allowedChannelIds: SLACK_CHANNELS,
      allowedUserIds: SLACK_USERS,
      connectTimeout: Duration.seconds(10)
    }
  })

/** The live Web API client against the fake. */
export const fakeSlackApiLayer = (fake: FakeSlack) =>
  Layer.effect(SlackApi, SlackApi.make(Redacted.make(fake.botToken), fake.apiRoot))

/** The Slack channel over the fake's Web API, started as the daemon starts it (listed in Channels). */
export const slackOver = (fake: FakeSlack) =>
  startChannel({ ...slack, layer: SlackChannel.layerWithApi.pipe(Layer.provide(fakeSlackApiLayer(fake))) })

/** The channel over the fake, with the core graph; built in the caller's scope. */
export const startSlack = (fake: FakeSlack, options: { patch?: Patch; longText?: string } = {}) =>
  Layer.build(slackOver(fake).pipe(Layer.provideMerge(testCore(slackSettings(fake, options.patch), options))))
