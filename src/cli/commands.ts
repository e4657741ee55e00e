// `switchboard status | send <text> | chat | watchdog | jobs | sessions | checks | digest --now`.
import { randomUUID } from "node:crypto"
import { Config, Console, Deferred, Duration, Effect, Fiber, type Option, type Redacted } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { formatStatus } from "../domain/formatStatus.ts"
import { type ClientError, GatewayClient, type InboxMessage, sendAndWait } from "./client.ts"
import { checksCommand, digestCommand } from "./checks.ts"
import { jobsCommand } from "./jobs.ts"
import { sessionsCommand } from "./sessions.ts"
import { runWatchdog } from "./watchdog.ts"
import { chatTerminal, redraw } from "./terminal.ts"

const url = Flag.String("url").pipe(
  Flag.withDescription("switchboard HTTP API (env SWITCHBOARD_URL)"),
  Flag.withFallbackConfig(Config.String("SWITCHBOARD_URL")),
  Flag.withDefault("http://127.0.0.1:7420")
)
const token = Flag.Redacted("token").pipe(
  Flag.withDescription("bearer token (env SWITCHBOARD_API_TOKEN)"),
  Flag.withFallbackConfig(Config.Redacted("SWITCHBOARD_API_TOKEN")),
  Flag.optional
)
const source = Flag.String("as").pipe(
  Flag.withDescription("your source name: cli:<name>"),
  Flag.withDefault("cli:local")
)

/** Failures print one line and exit 1: the CLI is used from scripts and timers. */
const failWith = (message: string) =>
  Effect.sync(() => {
    process.stderr.write(`switchboard: ${message}\n`)
    process.exitCode = 1
  })

const withClient = <A, E>(
  flags: { readonly url: string; readonly token: Option.Option<Redacted.Redacted<string>> },
  effect: Effect.Effect<A, E, GatewayClient>
) =>
  effect.pipe(
    Effect.provide(GatewayClient.layer(flags.url, flags.token)),
    Effect.catch((e) => failWith(e instanceof Error ? e.message : String(e)))
  )

const status = Command.make(
  "status",
  {
    url,
    token,
    json: Flag.Boolean("json").pipe(Flag.withDescription("print the raw /status JSON"), Flag.withDefault(false)),
    watch: Flag.Boolean("watch").pipe(Flag.withDescription("redraw every --every seconds until Ctrl-C"), Flag.withDefault(false)),
    every: Flag.Int("every").pipe(Flag.withDescription("seconds between redraws with --watch"), Flag.withDefault(2))
  },
  (flags) =>
    withClient(
      flags,
      Effect.gen(function*() {
        const client = yield* GatewayClient
        const render = Effect.map(client.getJson<Record<string, unknown>>("/status"), (doc) =>
          flags.json ? JSON.stringify(doc, null, 2) : formatStatus(doc))
        if (!flags.watch) return yield* Console.log(yield* render)
        // In place until Ctrl-C; a daemon that went away is said on the same screen, and watched for.
        const frame = render.pipe(
          Effect.catch((e) => Effect.succeed(`switchboard: ${e.message}; retrying…`)),
          Effect.flatMap((text) => redraw(`${text}\n\n${new Date().toLocaleTimeString()} · every ${flags.every} s · Ctrl-C to stop`))
        )
        return yield* frame.pipe(Effect.andThen(Effect.sleep(Duration.seconds(Math.max(1, flags.every)))), Effect.forever)
      })
    )
).pipe(Command.withDescription("Show queue, active turn, heartbeat and channels (--watch: keep it on screen, refreshed)"))

const send = Command.make(
  "send",
  {
    url,
    token,
    source,
    timeout: Flag.Int("timeout").pipe(Flag.withDescription("seconds to wait for the reply"), Flag.withDefault(120)),
    text: Argument.String("text").pipe(Argument.variadic({ min: 1 }), Argument.withDescription("the message"))
  },
  (flags) =>
    withClient(
      flags,
      Effect.gen(function*() {
        const record = yield* sendAndWait(flags.text.join(" "), flags.source, Duration.seconds(flags.timeout))
        if (record.status === "done") return yield* Console.log(record.reply ?? "")
        if (record.status === "failed") return yield* failWith(record.error ?? "the request failed")
        return yield* failWith(`no reply within ${flags.timeout} s (request ${record.id} is ${record.status})`)
      })
    )
).pipe(Command.withDescription("Send a message and print the reply"))

const show = (m: InboxMessage) => {
  const tag = m.kind === "reply" ? "" : `[${m.kind}] `
  const options = m.question ? "\n" + m.question.options.map((o, i) => `  ${i + 1}. ${o}`).join("\n") : ""
  return `${tag}${m.text}${m.question && !m.text.includes("1.") ? options : ""}`
}

const chat = Command.make(
  "chat",
  { url, token, source },
  (flags) =>
    withClient(
      flags,
      Effect.gen(function*() {
        const client = yield* GatewayClient
        // At a terminal: a prompt saying who you talk as, kept under what arrives.
        const terminal = chatTerminal(`${flags.source}> `)
        const inbox = `/v1/inbox/${encodeURIComponent(flags.source)}`
        type Page = { messages: ReadonlyArray<InboxMessage>; next: number; epoch?: string }
        const start = yield* client.getJson<Page>(`${inbox}?after=${Number.MAX_SAFE_INTEGER}`)
        const state = {
          after: start.next,
          // The inbox's life: a restarted daemon starts at seq 1 again, and the daemon then sends
          // everything instead of what is after our (old) seq.
          epoch: start.epoch,
          outstanding: new Set<string>(),
          inputEnded: false
        }
        const settled = yield* Deferred.make<void>()
        const settleIfDone = Effect.suspend(() =>
          state.inputEnded && state.outstanding.size === 0 ? Deferred.succeed(settled, undefined) : Effect.void
        )
        // The inbox is the single place replies arrive, together with notifications and questions.
        const pollOnce = Effect.gen(function*() {
          const epoch = state.epoch === undefined ? "" : `&epoch=${state.epoch}`
          const page = yield* client.getJson<Page>(`${inbox}?after=${state.after}&wait=25${epoch}`)
          for (const m of page.messages) {
            yield* terminal.print(show(m))
            if (m.requestId !== undefined && (m.kind === "reply" || m.kind === "error")) {
              state.outstanding.delete(m.requestId)
            }
          }
          state.after = page.next
          state.epoch = page.epoch ?? state.epoch
          yield* settleIfDone
        })
        // A daemon restart (or a network hiccup) must not silently end the stream of replies or the
        // chat: say so once, retry, say when it is back.
        const lost: { reason: string | undefined } = { reason: undefined }
        const lostContact = (error: { readonly message: string }) =>
          Effect.gen(function*() {
            if (lost.reason === undefined) yield* Console.error(`lost contact with switchboard (${error.message}); retrying…`)
            lost.reason = error.message
          })
        const backInTouch = Effect.suspend(() => {
          if (lost.reason === undefined) return Effect.void
          lost.reason = undefined
          return Console.error("reconnected")
        })
        const recover = (error: { readonly message: string }) =>
          Effect.gen(function*() {
            yield* lostContact(error)
            yield* Effect.sleep("1 second")
            const now = yield* client.getJson<Page>(`${inbox}?after=${Number.MAX_SAFE_INTEGER}`).pipe(Effect.option)
            if (now._tag === "Some") yield* backInTouch
          })
        // All long-poll slots taken (503 too_many_waiters): the daemon is there, just busy.
        const busy = (error: ClientError) =>
          error._tag === "GatewayRefused" && error.code === "too_many_waiters" ? Effect.sleep("2 seconds") : recover(error)
        const poll = pollOnce.pipe(Effect.catch(busy), Effect.forever)
        const poller = yield* Effect.forkChild(poll)
        const agent = yield* client.getJson<{ session?: { provider?: string; model?: string } }>("/status").pipe(
          Effect.map((s) => s.session?.provider === undefined ? "" : `, agent ${s.session.provider}${s.session.model && s.session.model !== s.session.provider ? ` (${s.session.model})` : ""}`),
          Effect.orElseSucceed(() => "")
        )
        yield* Console.error(`connected to ${client.url} as ${flags.source}${agent}; type a message, Ctrl-D to quit`)
        yield* terminal.prompt
        // A line typed while the daemon is away is sent once it is back; one refused because the
        // queue is full is sent again a little later. Its own idempotency key makes a retry after a
        // lost answer a duplicate, not a second message.
        type Accepted = { id: string; status?: string }
        const send = (text: string) => {
          const body = { text, source: flags.source, id: randomUUID() }
          const attempt: Effect.Effect<Accepted, ClientError> = client.postJson<Accepted>("/v1/messages", body).pipe(
            Effect.tap(() => backInTouch),
            Effect.catch((error): Effect.Effect<Accepted, ClientError> => {
              const retryIn = (delay: Duration.Input, notice: Effect.Effect<void>) =>
                notice.pipe(Effect.andThen(Effect.sleep(delay)), Effect.andThen(Effect.suspend(() => attempt)))
              if (error._tag === "GatewayUnreachable" || (error.status === 503 && error.code === "shutting_down")) {
                return retryIn("1 second", lostContact(error))
              }
              if (error.status === 503 && error.code === "queue_full") {
                return retryIn("5 seconds", Console.error("switchboard's queue is full; sending that again in 5 s"))
              }
              return Effect.fail(error)
            })
          )
          return attempt
        }
        for (;;) {
          const next = yield* Effect.promise(() => terminal.lines.next())
          const line: string | undefined = next.done ? undefined : next.value
          if (line === undefined) break
          if (line.trim() === "") {
            yield* terminal.prompt
            continue
          }
          const accepted = yield* send(line)
          yield* terminal.prompt
          // Answered at once (an answer to a pending question, /status): nothing more to wait for.
          if (accepted.status !== "done") state.outstanding.add(accepted.id)
        }
        // Input ended: wait (bounded) for the replies still owed, then leave.
        state.inputEnded = true
        yield* settleIfDone
        yield* Deferred.await(settled).pipe(Effect.timeoutOption("120 seconds"))
        yield* Fiber.interrupt(poller)
        yield* terminal.close
      })
    )
).pipe(Command.withDescription("Talk to the agent interactively; notifications and questions appear as they arrive"))

const jobs = Command.make(
  "jobs",
  { url, token, json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)) },
  (flags) => jobsCommand(flags.url, flags.token, flags.json)
).pipe(Command.withDescription("List exec jobs: running, finished, their session key"))

const sessions = Command.make(
  "sessions",
  { url, token, json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)) },
  (flags) => sessionsCommand(flags.url, flags.token, flags.json)
).pipe(Command.withDescription("Sessions (agent + conversation): scope, queued, running turn, last turn"))

const checks = Command.make(
  "checks",
  { url, token, json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)) },
  (flags) => checksCommand(flags.url, flags.token, flags.json)
).pipe(Command.withDescription("Background checks: state, since, last and next run, last detail"))

const digest = Command.make(
  "digest",
  { url, token, now: Flag.Boolean("now").pipe(Flag.withDescription("send every chat's digest now"), Flag.withDefault(false)) },
  (flags) =>
    flags.now
      ? digestCommand(flags.url, flags.token)
      : failWith("say `switchboard digest --now` to send the digest now (it is otherwise sent every SWITCHBOARD_DIGEST_EVERY)")
).pipe(Command.withDescription("Send the digest now (--now)"))

// Reads the tripwire file directly: it must work when the daemon is hung and answers nothing.
const watchdog = Command.make("watchdog", {}, () =>
  Effect.sync(() => {
    process.exitCode = runWatchdog(process.env)
  })).pipe(
    Command.withDescription(
      "Exit 1 with a one-line reason when the tripwire in SWITCHBOARD_STATE_DIR is stale (for systemd/launchd timers)"
    )
  )

export const switchboard = Command.make("switchboard").pipe(
  Command.withDescription("Control and talk to a switchboard daemon"),
  Command.withSubcommands([status, send, chat, jobs, sessions, checks, digest, watchdog])
)
