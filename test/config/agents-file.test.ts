// The agents file: what it declares, and how a bad one is refused (one line naming the field).
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { agentsOf, decodeAgentsFile } from "../../src/config/agentsFile.ts"
import { ConfigSchema, type GatewaySettings } from "../../src/config/GatewayConfig.ts"
import { describeStartupFailure } from "../../src/config/environment.ts"
import { AgentsFileInvalid } from "../../src/config/Agents.ts"

const settings = (env: Record<string, string> = {}): GatewaySettings =>
  Effect.runSync(ConfigSchema.parse(ConfigProvider.fromEnv({ env })))

const load = (file: unknown, env: Record<string, string> = {}, secrets: Record<string, string> = {}) => {
  const entries = decodeAgentsFile(JSON.stringify(file))
  if (typeof entries === "string") return entries
  return agentsOf(entries, settings(env), (name) => Option.map(Option.fromNullishOr(secrets[name]), Redacted.make))
}

describe("the agents file", () => {
  it("an agent takes the environment's model settings and overrides what it names; its key is read from its variable", () => {
    const agents = load(
      {
        agents: [
          { name: "home", bindings: ["*"] },
          {
            name: "work",
            scope: "per-chat",
            bindings: ["slack:*"],
            model: { provider: "openai", model: "gpt-work", baseUrl: "http://work.example/v1/", apiKeyVar: "WORK_KEY" },
            tools: ["notify"],
            exec: ["make"]
          }
        ]
      },
      { SWITCHBOARD_MODEL: "gpt-home", SWITCHBOARD_EXEC_ALLOW: "make,git", OPENAI_API_KEY: "sk-home-123456" },
      { WORK_KEY: "sk-work-123456" }
    )
    if (typeof agents === "string") return assert.fail(agents)
    const [home, work] = agents
    assert.strictEqual(home!.scope, "shared")
    assert.strictEqual(home!.model.name, "gpt-home")
    assert.deepStrictEqual(home!.exec, ["make", "git"])
    assert.deepStrictEqual(home!.tools, ["notify", "ask", "exec"])
    assert.strictEqual(work!.model.provider, "openai")
    assert.strictEqual(work!.model.name, "gpt-work")
    assert.strictEqual(work!.model.baseUrl, "http://work.example/v1")
    assert.strictEqual(Redacted.value(Option.getOrThrow(work!.model.apiKey)), "sk-work-123456")
    assert.deepStrictEqual(work!.tools, ["notify"])
    assert.deepStrictEqual(work!.exec, ["make"])
  })

  it("a bad field is named with its path", () => {
    const bad = load({ agents: [{ name: "home", bindings: ["*"] }, { name: "work", scope: "per-user", bindings: ["slack:*"] }] })
    assert.isString(bad)
    assert.strictEqual(bad, `agents[1].scope: Expected "shared" | "per-chat"`)
  })

  it("unknown fields, a missing binding list, two agents with one name or one binding, a key variable that is not set are refused", () => {
    assert.match(load({ agents: [{ name: "home", bindings: ["*"], colour: "red" }] }) as string, /colour/)
    assert.match(load({ agents: [{ name: "home" }] }) as string, /bindings/)
    assert.match(load({ agents: [{ name: "a", bindings: ["*"] }, { name: "a", bindings: ["x:1"] }] }) as string, /agents\[1\]\.name/)
    assert.match(load({ agents: [{ name: "a", bindings: ["x:*"] }, { name: "b", bindings: ["x:*"] }] }) as string, /"x:\*" is bound to both a and b/)
    assert.match(
      load({ agents: [{ name: "a", bindings: ["*"], model: { apiKeyVar: "NOT_SET_KEY" } }] }) as string,
      /agents\[0\]\.model\.apiKeyVar: NOT_SET_KEY is not set/
    )
    assert.match(load({ agents: [{ name: "a", bindings: ["*"], exec: ["rm"] }] }) as string, /agents\[0\]\.exec: "rm" is not in SWITCHBOARD_EXEC_ALLOW/)
    assert.match(load("nope") as string, /agents/)
  })

  it("the start-up line names the variable, the file and the reason", () => {
    const line = describeStartupFailure(new AgentsFileInvalid({ file: "/etc/agents.json", reason: "agents[0].name: x" }), {})
    assert.strictEqual(line, "invalid configuration: SWITCHBOARD_AGENTS_FILE: /etc/agents.json: agents[0].name: x")
  })
})
