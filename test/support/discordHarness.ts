// The Discord channel in the core graph, pointed at the fake Discord (REST and gateway): the same
// scripted Session, Questions and Gates as the Telegram tests, and the live discord.js packages.
// Used by the discord*.test.ts files; `startDiscord(fake)` is all a test needs.
import { Duration, Layer, Redacted } from "effect"
import { DiscordApi } from "../../src/channels/discord/DiscordApi.ts"
import { DiscordChannel } from "../../src/channels/discord/DiscordChannel.ts"
import { discord } from "../../src/channels/discord/definition.ts"
import { startChannel } from "../../src/layers/channels.ts"
import type { FakeDiscord } from "./fakeDiscord.ts"
import { type Patch, testCore } from "./telegramHarness.ts"

/** Channels the tests allow; users may talk anywhere they mention the bot. */
export const ALLOWED_CHANNELS = ["100", "101"]
export const ALLOWED_USERS = ["1001", "1002"]

export const discordSettings = (fake: FakeDiscord, patch: Patch = (s) => s): Patch => (s) =>
  patch({
    ...s,
    discord: {
      ...s.discord,
      apiRoot: fake.apiRoot,
      allowedChannelIds: ALLOWED_CHANNELS,
      allowedUserIds: ALLOWED_USERS,
      typingEvery: Duration.seconds(8)
    }
  })

/** The live client against the fake (identifies not spaced 5 s apart: tests reconnect often). */
export const fakeDiscordApi = (fake: FakeDiscord, token = fake.token) =>
  Layer.effect(DiscordApi, DiscordApi.make({ token: Redacted.make(token), apiRoot: fake.apiRoot, identifySpacingMs: 0 }))

/** The channel over the fake, with the core graph; built in the caller's scope. */
export const startDiscord = (fake: FakeDiscord, options: { patch?: Patch; longText?: string; token?: string } = {}) =>
  Layer.build(
    startChannel({ ...discord, layer: DiscordChannel.layerWithApi.pipe(Layer.provide(fakeDiscordApi(fake, options.token))) }).pipe(
      Layer.provideMerge(testCore(discordSettings(fake, options.patch), options))
    )
  )
