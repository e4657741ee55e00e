// The pure parts of exec hardening: scrubbing secrets (also cut off at the edges of the tail),
// argument rule matching, the argv shown for approval, the sandbox's argv, secrets from files.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Option, Redacted } from "effect"
import { autoApproved, matchesRule, parseRule, showArgv } from "../../src/agent/exec/policy.ts"
import { sandboxPrefix } from "../../src/agent/exec/sandbox.ts"
import { scrubSecrets } from "../../src/agent/exec/scrub.ts"
import { resolveSecretFiles, secretValues } from "../../src/config/secretFiles.ts"

describe("scrubbing job output", () => {
  const key = "sk-live-0123456789abcdef"
  it("replaces every secret, its JSON-escaped and URL-encoded forms", () => {
    assert.strictEqual(scrubSecrets(`a ${key} b ${key}`, [key]), "a [redacted] b [redacted]")
    assert.strictEqual(scrubSecrets(`"p\\"w0rd-x1"`, [`p"w0rd-x1`]), `"[redacted]"`)
    assert.strictEqual(scrubSecrets(`u=${encodeURIComponent("a b/c?d=e")}`, ["a b/c?d=e"]), "u=[redacted]")
  })
  it("a secret cut off at the start of the kept tail, or half printed at the end, is scrubbed too", () => {
    assert.strictEqual(scrubSecrets(`${key.slice(7)}\nmore`, [key]), "[redacted]\nmore")
    assert.strictEqual(scrubSecrets(`token: ${key.slice(0, 10)}`, [key]), "token: [redacted]")
    // Fragments shorter than 6 characters stay: they are ordinary text too often.
    assert.strictEqual(scrubSecrets("cdef and more", [key]), "cdef and more")
  })
  it("very short values are not treated as secrets (config refuses such tokens)", () => {
    assert.strictEqual(scrubSecrets("a b c", ["a"]), "a b c")
  })
})

describe("argument rules", () => {
  it("long options match exactly, with =value, and as abbreviations; short ones alone, stuck or clustered", () => {
    assert.isTrue(matchesRule("--upload-pack", "--upload-pack"))
    assert.isTrue(matchesRule("--upload-pack", "--upload-pack=sh"))
    assert.isTrue(matchesRule("--upload-pack", "--upl"))
    assert.isFalse(matchesRule("--upload-pack", "--upload-packer"))
    assert.isFalse(matchesRule("--upload-pack", "--"))
    assert.isTrue(matchesRule("-x", "-x"))
    assert.isTrue(matchesRule("-x", "-ix"))
    assert.isTrue(matchesRule("-x", "-xsh"))
    assert.isFalse(matchesRule("-x", "--ex"))
    assert.isFalse(matchesRule("-x", "x"))
    assert.isTrue(matchesRule("-exec", "-exec"))
    assert.isFalse(matchesRule("-exec", "-executable"))
    assert.isTrue(matchesRule("config", "config"))
    assert.isTrue(matchesRule("*ext::*", "ext::sh -c id"))
    assert.isTrue(matchesRule("/^[^-][^=]*=/", "CC=sh"))
    assert.isFalse(matchesRule("/^[^-][^=]*=/", "--jobs=4"))
  })
  it("SWITCHBOARD_EXEC_DENY entries: program[ subcommand]:pattern", () => {
    assert.deepStrictEqual(parseRule("git:--upload-pack"), { program: "git", subcommand: undefined, pattern: "--upload-pack" })
    assert.deepStrictEqual(parseRule("/usr/bin/git rebase:-x"), { program: "git", subcommand: "rebase", pattern: "-x" })
    assert.isUndefined(parseRule("git"))
    assert.isUndefined(parseRule(":x"))
    assert.isUndefined(parseRule("git:/(/"))
  })
  it("SWITCHBOARD_EXEC_AUTO entries are a program or a program with leading arguments", () => {
    assert.isTrue(autoApproved(["git status"], ["git", "status", "--short"]))
    assert.isFalse(autoApproved(["git status"], ["git", "push"]))
    assert.isFalse(autoApproved(["git status"], ["git"]))
    assert.isTrue(autoApproved(["make"], ["make", "deploy"]))
    assert.isFalse(autoApproved(["make"], ["/usr/bin/make"]))
  })
})

describe("the argv shown for approval", () => {
  it("means exactly that argv to a shell; control characters and backticks are made visible", () => {
    assert.strictEqual(showArgv(["git", "log", "-n", "3"]), "git log -n 3")
    assert.strictEqual(showArgv(["cat", "my file"]), "cat 'my file'")
    assert.strictEqual(showArgv(["echo", "it's"]), "echo 'it'\\''s'")
    assert.strictEqual(showArgv(["echo", "\u001b]0;owned\u0007"]), "echo $'\\x1b]0;owned\\x07'")
    assert.strictEqual(showArgv(["echo", "`id`"]), "echo $'\\x60id\\x60'")
  })
})

describe("the sandbox's argv", () => {
  it("bwrap: new PID namespace and /proc, dies with the daemon, hides secret files and dirs", () => {
    assert.deepStrictEqual(sandboxPrefix("bwrap", { files: ["/etc/sb.json"], dirs: ["/run/creds"] }), [
      "bwrap", "--dev-bind", "/", "/", "--unshare-pid", "--proc", "/proc", "--die-with-parent",
      "--ro-bind-try", "/dev/null", "/etc/sb.json", "--tmpfs", "/run/creds", "--"
    ])
  })
  it("unshare: a user namespace only when not root", () => {
    assert.deepStrictEqual(sandboxPrefix("unshare", { files: [], dirs: [] }, true), ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", "--"])
    assert.include(sandboxPrefix("unshare", { files: [], dirs: [] }, false), "--map-current-user")
  })
})

describe("secrets from files", () => {
  it("<NAME>_FILE and $CREDENTIALS_DIRECTORY/<NAME> fill <NAME>; both NAME and NAME_FILE is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "switchboard-secretfiles-"))
    try {
      writeFileSync(join(dir, "key"), "sk-from-file\n")
      writeFileSync(join(dir, "TELEGRAM_BOT_TOKEN"), "123:from-credentials")
      writeFileSync(join(dir, "NOT_A_SECRET_NAME"), "ignored")
      const env = resolveSecretFiles({ OPENAI_API_KEY_FILE: join(dir, "key"), CREDENTIALS_DIRECTORY: dir, SWITCHBOARD_CONFIG_FILE: "/x.json" })
      assert.strictEqual(env["OPENAI_API_KEY"], "sk-from-file")
      assert.strictEqual(env["TELEGRAM_BOT_TOKEN"], "123:from-credentials")
      assert.isUndefined(env["NOT_A_SECRET_NAME"])
      assert.strictEqual(env["SWITCHBOARD_CONFIG_FILE"], "/x.json") // not a secret: left alone
      assert.throws(() => resolveSecretFiles({ OPENAI_API_KEY: "x", OPENAI_API_KEY_FILE: join(dir, "key") }), /set either OPENAI_API_KEY or OPENAI_API_KEY_FILE/)
      assert.throws(() => resolveSecretFiles({ OPENAI_API_KEY_FILE: join(dir, "missing") }), /OPENAI_API_KEY: cannot read .*missing \(ENOENT\)/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
  it("every configured secret is found: Redacted values anywhere, URL passwords, secret-named variables", () => {
    const settings = { a: { token: Option.some(Redacted.make("tok-123456")) }, redis: "redis://:hunter2-pw@h:6379/0", list: [Redacted.make("k-abcdef")] }
    assert.sameMembers(secretValues(settings, { GITHUB_TOKEN: "ghp_x1", PATH: "/bin" }), ["tok-123456", "", "hunter2-pw", "k-abcdef", "ghp_x1"].filter((s) => s !== ""))
  })
})
