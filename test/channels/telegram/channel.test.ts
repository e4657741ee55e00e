// The Telegram channel end to end inside the process: grammY's client against the fake Bot API,
// the core graph with a scripted session. What a person in a chat would see is what is asserted.
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Metric, Scope } from "effect"
import { Dispatcher } from "../../../src/core/Dispatcher.ts"
import { Inbox } from "../../../src/channels/http/Inbox.ts"
import { Intake } from "../../../src/core/Intake.ts"
import { Router } from "../../../src/core/Router.ts"
import { Status } from "../../../src/core/Status.ts"
import { TelegramChannel } from "../../../src/channels/telegram/TelegramChannel.ts"
import { telegramFailingInARow } from "../../../src/channels/telegram/metrics.ts"
import { callbackUpdate, fakeBotApi, photoUpdate, textUpdate } from "../../support/fakeBotApi.ts"
import { eventually, fakeApiLayer, Gates, startTelegram, telegramSettings, testCore, telegramOver } from "../../support/telegramHarness.ts"

const telegramSection = (ctx: Context.Context<Status>) =>
  Effect.map(Context.get(ctx, Status).snapshot, (doc) => doc["telegram"] as Record<string, any>)

describe("Telegram channel", () => {
  it.live("round trip: a text message reaches the agent and the reply comes back as HTML", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      fake.push(textUpdate(111, "hello *there*"))
      yield* fake.waitFor("a reply in chat 111", () => fake.texts(111).length > 0)
      const [reply] = fake.callsOf("sendMessage", 111)
      assert.strictEqual(reply!.payload["text"], "echo: hello <i>there</i> [telegram:111]")
      assert.strictEqual(reply!.payload["parse_mode"], "HTML")
      // Start-up: webhook removed for polling, commands registered.
      const commands = fake.callsOf("setMyCommands")[0]!.payload["commands"] as Array<{ command: string }>
      assert.deepStrictEqual(commands.map((c) => c.command).sort(), ["new", "status", "stop"])
      assert.isAbove(fake.callsOf("deleteWebhook").length, 0)
      const section = yield* telegramSection(ctx)
      assert.strictEqual(section["state"], "polling")
      assert.strictEqual(section["bot"], "@switchboard_test_bot")
      assert.strictEqual(section["received"], 1)
      const health = yield* Context.get(ctx, Status).health
      assert.strictEqual(health.checks["telegram"]?.status, "pass")
    }))

  it.live("allowlist: other chats never reach the agent; they are counted, not answered", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      fake.push(textUpdate(999, "let me in"), textUpdate(999, "/status"), photoUpdate(999))
      fake.push(textUpdate(111, "after"))
      yield* fake.waitFor("the allowed chat's reply", () => fake.texts(111).length > 0)
      assert.deepStrictEqual(fake.callsOf("sendMessage", 999), [])
      const section = yield* telegramSection(ctx)
      assert.strictEqual(section["denied"], 3)
      const queue = (yield* Context.get(ctx, Status).snapshot)["queue"] as { accepted: number }
      assert.strictEqual(queue.accepted, 1)
    }))

  it.live("forum topics: the source names the topic and the reply goes back to it", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      yield* startTelegram(fake)
      fake.push(textUpdate(-100500, "in a topic", { threadId: 7 }), textUpdate(-100500, "in general"))
      yield* fake.waitFor("two replies", () => fake.callsOf("sendMessage", -100500).length === 2)
      assert.deepStrictEqual(fake.texts(-100500, 7), ["echo: in a topic [telegram:-100500:topic:7]"])
      assert.deepStrictEqual(fake.texts(-100500), ["echo: in general [telegram:-100500]"])
    }))

  it.live("dedupe: an update delivered twice is answered once", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      yield* startTelegram(fake)
      const update = textUpdate(111, "once", { updateId: 500 })
      fake.push(update, update)
      fake.push(textUpdate(111, "next", { updateId: 501 }))
      yield* fake.waitFor("the next reply", () => fake.texts(111).some((t) => t.startsWith("echo: next")))
      assert.deepStrictEqual(fake.texts(111), ["echo: once [telegram:111]", "echo: next [telegram:111]"])
    }))

  it.live("non-text messages get a clear 'not supported yet' reply and never reach the agent", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      fake.push(photoUpdate(111))
      yield* fake.waitFor("a reply", () => fake.texts(111).length > 0)
      assert.match(fake.texts(111)[0]!, /only read text messages for now; photos are not supported yet/)
      const queue = (yield* Context.get(ctx, Status).snapshot)["queue"] as { accepted: number }
      assert.strictEqual(queue.accepted, 0)
    }))

  it.live("a full queue is told to the chat", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake, { patch: (s) => ({ ...s, queue: { ...s.queue, cap: 1 } }) })
      fake.push(textUpdate(111, "slow:q"))
      yield* eventually("the slow turn runs", Effect.map(Context.get(ctx, Dispatcher).active, (a) => a !== undefined))
      fake.push(textUpdate(222, "waits"), textUpdate(222, "refused"))
      yield* fake.waitFor("the refusal", () => fake.texts(222).length > 0)
      assert.match(fake.texts(222)[0]!, /can't take that right now: the queue is full/)
      yield* Context.get(ctx, Gates).open("q")
      yield* fake.waitFor("the queued message's reply", () => fake.texts(222).length === 2)
      assert.strictEqual(fake.texts(222)[1], "echo: waits [telegram:222]")
    }))
})

describe("Telegram offsets", () => {
  it.live("an update's offset is confirmed only after Intake has it, so a crash before that loses nothing", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const patch = telegramSettings(fake)
      const coreCtx = yield* Layer.build(testCore(patch))
      // An Intake that holds the first submission, as a slow durable queue write would.
      const real = Context.get(coreCtx, Intake)
      const held = { submits: 0, release: false }
      const slowIntake = Layer.succeed(Intake, Intake.of({
        settle: Effect.void,
        submit: (s) =>
          Effect.gen(function*() {
            held.submits++
            if (!held.release) yield* Effect.never
            return yield* real.submit(s)
          })
      }))
      const channel = telegramOver(fakeApiLayer(fake)).pipe(
        Layer.provide(slowIntake),
        Layer.provide(Layer.succeedContext(coreCtx))
      )

      const first = yield* Scope.make()
      yield* Layer.buildWithScope(channel, first)
      const [id] = fake.push(textUpdate(111, "keep me"))
      yield* eventually("the submission is in progress", Effect.sync(() => held.submits === 1))
      const offsets = () => fake.callsOf("getUpdates").map((c) => c.payload["offset"] as number | undefined)
      assert.notInclude(offsets(), id! + 1, "confirmed before Intake had it")
      // The process goes down while the update is still being handed over.
      yield* Scope.close(first, Exit.void)
      assert.notInclude(offsets(), id! + 1, "confirmed at shutdown although Intake never had it")

      // After a restart Telegram delivers it again, and this time it is handed over and answered.
      held.release = true
      const second = yield* Scope.make()
      yield* Layer.buildWithScope(channel, second)
      yield* fake.waitFor("the reply after the restart", () => fake.texts(111).length > 0)
      assert.deepStrictEqual(fake.texts(111), ["echo: keep me [telegram:111]"])
      yield* fake.waitFor("the offset confirmed", () => offsets().includes(id! + 1))
      yield* Scope.close(second, Exit.void)
    }))

  it.live("shutdown confirms what was handed over, so a restart does not answer it again", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const coreCtx = yield* Layer.build(testCore(telegramSettings(fake)))
      const channel = telegramOver(fakeApiLayer(fake)).pipe(
        Layer.provide(Layer.succeedContext(coreCtx))
      )
      const first = yield* Scope.make()
      yield* Layer.buildWithScope(channel, first)
      const [id] = fake.push(textUpdate(111, "only once"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1)
      yield* Scope.close(first, Exit.void)
      const last = fake.callsOf("getUpdates").at(-1)!
      assert.strictEqual(last.payload["offset"], id! + 1)

      const second = yield* Scope.make()
      yield* Layer.buildWithScope(channel, second)
      fake.push(textUpdate(111, "new one"))
      yield* fake.waitFor("the next reply", () => fake.texts(111).length === 2)
      assert.deepStrictEqual(fake.texts(111), ["echo: only once [telegram:111]", "echo: new one [telegram:111]"])
      yield* Scope.close(second, Exit.void)
    }))
})

describe("Telegram commands", () => {
  it.live("/stop interrupts the running turn of that chat only; /status answers while the session is busy", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      const dispatcher = Context.get(ctx, Dispatcher)
      fake.push(textUpdate(111, "slow:never"))
      yield* eventually("111's turn runs", Effect.map(dispatcher.active, (a) => a?.source === "telegram:111"))

      fake.push(textUpdate(222, "/status"))
      yield* fake.waitFor("the status reply", () => fake.texts(222).length === 1)
      assert.match(fake.texts(222)[0]!, /active\s+telegram:\d+ from telegram:111/)

      fake.push(textUpdate(222, "/stop"))
      yield* fake.waitFor("222's stop reply", () => fake.texts(222).length === 2)
      assert.strictEqual(fake.texts(222)[1], "Nothing is running for this chat.")
      assert.strictEqual((yield* dispatcher.active)?.source, "telegram:111")

      fake.push(textUpdate(111, "/stop@switchboard_test_bot"))
      yield* fake.waitFor("111's turn stopped", () => fake.texts(111).includes("Stopped."))
      assert.isUndefined(yield* dispatcher.active)
      assert.deepStrictEqual(fake.texts(111), ["Stopped."])
    }))

  it.live("/new starts a fresh conversation through the queue", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      yield* startTelegram(fake)
      fake.push(textUpdate(111, "/new"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1)
      assert.deepStrictEqual(fake.texts(111), ["Started a new conversation."])
    }))
})

describe("Telegram interleaving", () => {
  it.live("chat 111's slow turn notifies and asks while 222 and an HTTP client talk: everything lands in its own chat", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      const intake = Context.get(ctx, Intake)
      fake.push(textUpdate(111, "work"))
      yield* fake.waitFor("111's progress note", () => fake.texts(111).includes("progress 1"))

      // Others arrive mid-turn.
      fake.push(textUpdate(222, "hello from 222"))
      yield* intake.submit({ id: "http-1", source: "http:alice", text: "hello from http" })
      yield* Context.get(ctx, Gates).open("work")

      yield* fake.waitFor("the keyboard in 111", () => fake.callsOf("sendMessage", 111).some((c) => c.payload["reply_markup"]))
      const question = fake.callsOf("sendMessage", 111).find((c) => c.payload["reply_markup"])!
      assert.strictEqual(question.payload["text"], "Pick a colour")
      const keyboard = question.payload["reply_markup"].inline_keyboard as Array<Array<{ text: string; callback_data: string }>>
      assert.deepStrictEqual(keyboard.map((row) => row[0]!.text), ["red", "green"])
      for (const row of keyboard) assert.isAtMost(Buffer.byteLength(row[0]!.callback_data), 64)
      const message = { message_id: 42, date: 0, chat: { id: 111, type: "private" }, text: "Pick a colour", reply_markup: question.payload["reply_markup"] }

      // A press from another chat is refused politely; the press in 111 answers.
      fake.push(callbackUpdate(222, { ...message, chat: { id: 222, type: "private" } }, keyboard[0]![0]!.callback_data))
      yield* fake.waitFor("the other chat's toast", () => fake.callsOf("answerCallbackQuery").length === 1)
      assert.strictEqual(fake.callsOf("answerCallbackQuery")[0]!.payload["text"], "That question was asked in another chat.")
      fake.push(callbackUpdate(111, message, keyboard[0]![0]!.callback_data))

      yield* fake.waitFor("111's final reply", () => fake.texts(111).includes("done work"))
      assert.deepStrictEqual(fake.texts(111), ["progress 1", "Pick a colour", "picked red", "done work"])
      yield* fake.waitFor("222's reply", () => fake.texts(222).length === 1)
      assert.deepStrictEqual(fake.texts(222), ["echo: hello from 222 [telegram:222]"])
      const inbox = yield* Context.get(ctx, Inbox).read("http:alice", 0, 5000)
      assert.deepStrictEqual(inbox.messages.map((m) => m.text), ["echo: hello from http [http:alice]"])

      // The press was acknowledged, the keyboard removed and the choice shown under the question.
      const toasts = fake.callsOf("answerCallbackQuery").map((c) => c.payload["text"])
      assert.strictEqual(toasts[1], "You chose: red")
      const edit = fake.callsOf("editMessageText")[0]!
      assert.deepInclude(edit.payload, { chat_id: 111, message_id: 42, text: "Pick a colour\n\n✅ red" })
      assert.deepStrictEqual(edit.payload["reply_markup"], { inline_keyboard: [] })

      // Pressing again later: the question is closed.
      fake.push(callbackUpdate(111, message, keyboard[1]![0]!.callback_data))
      yield* fake.waitFor("the stale toast", () => fake.callsOf("answerCallbackQuery").length === 3)
      assert.strictEqual(
        fake.callsOf("answerCallbackQuery")[2]!.payload["text"],
        "This question has already been answered or has expired."
      )
      // Every message in 111 and 222 went to the right chat; nothing else was sent anywhere.
      assert.deepStrictEqual(
        [...new Set(fake.callsOf("sendMessage").map((c) => c.payload["chat_id"]))].sort(),
        [111, 222]
      )
    }))

  it.live("a typed answer to a question is acknowledged and the question's buttons are removed", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      yield* startTelegram(fake)
      fake.push(textUpdate(111, "ask:Deploy now?|yes|no"))
      yield* fake.waitFor("the keyboard", () => fake.callsOf("sendMessage", 111).some((c) => c.payload["reply_markup"]))
      assert.deepStrictEqual(fake.callsOf("editMessageReplyMarkup"), [])
      fake.push(textUpdate(111, "yes"))
      yield* fake.waitFor("the turn's reply", () => fake.texts(111).includes("you picked yes"))
      yield* fake.waitFor("the acknowledgement", () => fake.texts(111).includes("Got it."))
      yield* fake.waitFor("the keyboard removed", () => fake.callsOf("editMessageReplyMarkup").length === 1)
      const edit = fake.callsOf("editMessageReplyMarkup")[0]!
      assert.strictEqual(edit.payload["chat_id"], 111)
      assert.isNumber(edit.payload["message_id"])
      assert.deepStrictEqual(edit.payload["reply_markup"], { inline_keyboard: [] })
    }))

  it.live("a button with garbage data gets a toast, not a crash", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      yield* startTelegram(fake)
      fake.push(callbackUpdate(111, { message_id: 1, date: 0, chat: { id: 111, type: "private" } }, "nonsense"))
      fake.push({ not: "an update" }, { update_id: "x" })
      fake.push(textUpdate(111, "still alive"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1)
      assert.strictEqual(fake.callsOf("answerCallbackQuery")[0]!.payload["text"], "This question is no longer open.")
    }))
})

describe("Telegram delivery", () => {
  const longText = Array.from({ length: 40 }, (_, i) =>
    i % 5 === 4
      ? "```ts\n" + Array.from({ length: 30 }, (_, j) => `const x${i}_${j} = a < b && c > d`).join("\n") + "\n```"
      : `Paragraph ${i} with **bold** text and <angle> brackets & more words, repeated a few times to be long enough.`
  ).join("\n\n")
  // A word of 9,000 characters (cut exactly at the limit, so a limit raised to 4097 fails), then
  // parts of which every fifth is a code block of ~9 KB, longer than a message: cut inside blocks.
  const cutText = "w".repeat(9000) + "\n\n" + Array.from({ length: 40 }, (_, i) =>
    i % 5 === 4
      ? "```ts\n" + Array.from({ length: 300 }, (_, j) => `const x${i}_${j} = a < b && c > d`).join("\n") + "\n```"
      : `Paragraph ${i} with **bold** text and <angle> brackets & more words.`
  ).join("\n\n")

  it.live("a long reply is chunked ≤ 4096 with balanced code blocks, complete and in order", () =>
    Effect.gen(function*() {
      assert.isAtLeast(cutText.length, 10_000)
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake, { longText: cutText })
      fake.push(textUpdate(111, "long"))
      yield* eventually("the turn is done", Effect.map(Context.get(ctx, Router).stats, (s) => s.delivered === 1))
      const sent = fake.callsOf("sendMessage", 111).map((c) => String(c.payload["text"]))
      assert.isAtLeast(sent.length, 3)
      // Cut inside code blocks (a chunk opens one it did not start), and close to the limit.
      assert.isTrue(sent.some((c) => c.startsWith("<pre>")), "some chunk continues a code block")
      assert.isAtLeast(Math.max(...sent.map((c) => c.length)), 4000)
      for (const chunk of sent) {
        assert.isAtMost(chunk.length, 4096)
        assert.strictEqual((chunk.match(/<pre>/g) ?? []).length, (chunk.match(/<\/pre>/g) ?? []).length)
        assert.strictEqual((chunk.match(/<code[ >]/g) ?? []).length, (chunk.match(/<\/code>/g) ?? []).length)
      }
      const visible = sent.join("\n").replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")
      const expected = cutText.replace(/```ts|```|\*\*/g, "")
      // Complete and in order (a cut inside a word adds the line break between chunks: spaces aside).
      assert.strictEqual(visible.replace(/\s+/g, ""), expected.replace(/\s+/g, ""))
    }))

  it.live("when Telegram rejects the HTML, every chunk is re-sent as plain text", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      fake.fail("sendMessage", { code: 400, description: "Bad Request: can't parse entities: unsupported start tag" }, {
        times: Number.POSITIVE_INFINITY,
        when: (p) => p["parse_mode"] === "HTML"
      })
      const ctx = yield* startTelegram(fake, { longText })
      fake.push(textUpdate(111, "long"))
      yield* eventually("the turn is done", Effect.map(Context.get(ctx, Router).stats, (s) => s.delivered === 1))
      const calls = fake.callsOf("sendMessage", 111)
      const plain = calls.filter((c) => c.payload["parse_mode"] === undefined).map((c) => String(c.payload["text"]))
      const html = calls.filter((c) => c.payload["parse_mode"] === "HTML")
      assert.strictEqual(html.length, 1, "only the first chunk was tried as HTML")
      assert.isAtLeast(plain.length, 3)
      for (const p of plain) assert.notMatch(p, /<\/?(b|pre|code)>|&lt;/)
      assert.include(plain.join("\n"), "const x4_0 = a < b && c > d")
      assert.include(plain.at(-1)!, "const x39_29 = a < b && c > d")
      assert.strictEqual((yield* telegramSection(ctx))["plainFallbacks"], 1)
    }))

  it.live("429 with retry_after: delivered after the wait", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      fake.fail("sendMessage", { code: 429, description: "Too Many Requests: retry after 1", retryAfter: 1 })
      yield* startTelegram(fake)
      fake.push(textUpdate(111, "hi"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 2)
      const [limited, delivered] = fake.callsOf("sendMessage", 111)
      assert.isAtLeast(delivered!.at - limited!.at, 950)
      assert.strictEqual(delivered!.payload["text"], "echo: hi [telegram:111]")
    }))

  it.live("429 on a later chunk is waited out without re-sending the earlier chunks", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      let n = 0
      fake.fail("sendMessage", { code: 429, description: "Too Many Requests: retry after 1", retryAfter: 1 }, {
        when: () => ++n === 2
      })
      const ctx = yield* startTelegram(fake, { longText })
      fake.push(textUpdate(111, "long"))
      yield* eventually("the turn is done", Effect.map(Context.get(ctx, Router).stats, (s) => s.delivered === 1))
      const texts = fake.texts(111)
      assert.strictEqual(texts[1], texts[2], "the rate-limited chunk was sent again")
      assert.strictEqual(new Set(texts).size, texts.length - 1, "no other chunk was repeated")
    }))

  it.live("permanent errors (bot blocked, chat not found) are recorded and not retried", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      fake.fail("sendMessage", { code: 403, description: "Forbidden: bot was blocked by the user" }, {
        times: Number.POSITIVE_INFINITY,
        when: (p) => p["chat_id"] === 111
      })
      fake.fail("sendMessage", { code: 400, description: "Bad Request: chat not found" }, {
        times: Number.POSITIVE_INFINITY,
        when: (p) => p["chat_id"] === 222
      })
      const ctx = yield* startTelegram(fake)
      fake.push(textUpdate(111, "hi"), textUpdate(222, "hi"))
      yield* eventually("both deliveries failed", Effect.map(Context.get(ctx, Router).stats, (s) => s.failed === 2))
      assert.strictEqual(fake.callsOf("sendMessage", 111).length, 1)
      assert.strictEqual(fake.callsOf("sendMessage", 222).length, 1)
      const section = yield* telegramSection(ctx)
      assert.strictEqual(section["permanentFailures"], 2)
      assert.match(section["lastPermanentFailure"].reason, /bot was blocked|chat not found/)
    }))

  it.live("delivery to a telegram:* target from outside a turn goes through the same sender", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      const ctx = yield* startTelegram(fake)
      yield* Context.get(ctx, Router).deliver("telegram:-100500:topic:9", { kind: "notify", text: "deploy **done**" }, {
        explicit: true
      })
      assert.deepStrictEqual(fake.texts(-100500, 9), ["deploy <b>done</b>"])
      const bad = yield* Context.get(ctx, Router).deliver("telegram:someone", { kind: "notify", text: "x" }).pipe(Effect.flip)
      assert.strictEqual(bad._tag, "DeliveryFailed")
    }))
})

describe("Telegram health", () => {
  it.live("failing polls show in /health and /status, and recover", () =>
    Effect.gen(function*() {
      const fake = yield* fakeBotApi
      fake.fail("getUpdates", { code: 502, description: "Bad Gateway" })
      const ctx = yield* startTelegram(fake)
      const status = Context.get(ctx, Status)
      yield* eventually("the failure is visible", Effect.map(status.health, (h) => h.checks["telegram"]?.status === "warn"))
      assert.match((yield* status.health).checks["telegram"]!.detail!, /getUpdates failed 1 times in a row: getUpdates: 502 Bad Gateway/)
      assert.strictEqual((yield* telegramSection(ctx))["state"], "failing")
      // The operator's gauge says "failing right now", and goes back to 0 once Telegram answers.
      assert.isAtLeast((yield* Metric.value(telegramFailingInARow)).value, 1)
      fake.push(textUpdate(111, "back"))
      yield* fake.waitFor("the reply", () => fake.texts(111).length === 1)
      assert.strictEqual((yield* status.health).checks["telegram"]?.status, "pass")
      assert.strictEqual((yield* Metric.value(telegramFailingInARow)).value, 0)
      assert.notInclude(JSON.stringify(yield* status.snapshot), fake.token)
    }))
})
