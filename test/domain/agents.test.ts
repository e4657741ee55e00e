// Which agent answers a source and which conversation it lands in: the pure routing rules.
import { assert, describe, it } from "@effect/vitest"
import { type AgentRouting, agentFor, bindingMatches, duplicateBinding, resolveSession } from "../../src/domain/agents.ts"

const agents: ReadonlyArray<AgentRouting> = [
  { name: "home", scope: "shared", bindings: ["*"] },
  { name: "work", scope: "per-chat", bindings: ["discord:*", "telegram:111", "redis:deploys"] },
  { name: "family", scope: "shared", bindings: ["telegram:*"] }
]

describe("bindings", () => {
  it("a binding matches one chat, a whole channel, or everything", () => {
    assert.isTrue(bindingMatches("telegram:111", "telegram:111"))
    assert.isFalse(bindingMatches("telegram:111", "telegram:1111"))
    assert.isTrue(bindingMatches("discord:*", "discord:42:7"))
    assert.isFalse(bindingMatches("discord:*", "discordx:42"))
    assert.isTrue(bindingMatches("*", "cli:local"))
  })

  it("the most specific binding wins, whatever the order of the agents", () => {
    assert.strictEqual(agentFor(agents, "telegram:111")?.name, "work") // one chat beats telegram:*
    assert.strictEqual(agentFor(agents, "telegram:222")?.name, "family") // a channel beats *
    assert.strictEqual(agentFor(agents, "discord:9")?.name, "work")
    assert.strictEqual(agentFor(agents, "http:me")?.name, "home")
    assert.strictEqual(agentFor([...agents].reverse(), "telegram:111")?.name, "work")
  })

  it("a source no binding matches is unbound", () => {
    const narrow: ReadonlyArray<AgentRouting> = [{ name: "work", scope: "shared", bindings: ["slack:*"] }]
    assert.isUndefined(resolveSession(narrow, "telegram:1"))
  })

  it("a binding declared by two agents is found (the file is refused)", () => {
    assert.deepStrictEqual(
      duplicateBinding([...agents, { name: "other", scope: "shared", bindings: ["redis:deploys"] }]),
      { binding: "redis:deploys", agents: ["work", "other"] }
    )
    assert.isUndefined(duplicateBinding(agents))
  })
})

describe("session scope", () => {
  it("shared: every chat of the agent is one conversation; per-chat: one per source", () => {
    assert.deepStrictEqual(resolveSession(agents, "telegram:222"), {
      key: "family/shared",
      agent: "family",
      scope: "shared",
      conversation: "shared"
    })
    assert.strictEqual(resolveSession(agents, "telegram:333")?.key, "family/shared")
    assert.strictEqual(resolveSession(agents, "discord:1")?.key, "work/discord:1")
    assert.strictEqual(resolveSession(agents, "discord:2")?.key, "work/discord:2")
  })
})
