// What exec may run, argument by argument. The allowlist names programs, but many programs run
// anything they are told to (`git -c alias.x='!sh'`, `find -exec`, `make --eval`, `env sh -c`):
// launchers, shells and interpreters are refused in the allowlist unless forced, and the programs
// people list most get deny rules for the arguments that run other commands. Pure.

/** Programs whose purpose is to run other programs or code: allowing one allows everything. */
const LAUNCHERS: ReadonlyArray<string> = [
  // shells
  "sh", "bash", "dash", "zsh", "ksh", "mksh", "csh", "tcsh", "fish", "ash", "busybox", "rbash", "pwsh", "powershell",
  // launchers and wrappers
  "env", "xargs", "nohup", "nice", "ionice", "timeout", "stdbuf", "setsid", "setpriv", "sudo", "su", "doas", "runuser",
  "chroot", "unshare", "nsenter", "bwrap", "firejail", "flock", "taskset", "chrt", "time", "watch", "script", "strace",
  "ltrace", "gdb", "lldb", "valgrind", "parallel", "systemd-run", "at", "batch", "crontab", "ssh", "expect", "tmux", "screen",
  "docker", "podman", "kubectl", "npx", "pnpx", "bunx", "dbus-run-session", "xdg-open", "open",
  // interpreters and programs with an "execute this" command of their own
  "node", "nodejs", "deno", "bun", "python", "python2", "python3", "pypy", "pypy3", "perl", "ruby", "irb", "php", "lua",
  "luajit", "tclsh", "wish", "R", "Rscript", "julia", "java", "jshell", "groovy", "scala", "osascript", "awk", "gawk", "mawk",
  "nawk", "sed", "ed", "ex", "vi", "vim", "nvim", "emacs", "less", "more", "man", "tar", "zip", "rsync", "scp", "sftp"
]

/** `python3.11`, `perl5.36`, `node24`: the same interpreter under a versioned name. */
const VERSIONED = /^(?:python|pypy|perl|ruby|php|lua|node|tclsh|wish|pwsh)[0-9.]+$/

/** The file name of a program path. */
export const baseName = (program: string): string => program.slice(program.lastIndexOf("/") + 1)

export const isLauncher = (program: string): boolean => {
  const name = baseName(program)
  return LAUNCHERS.includes(name) || VERSIONED.test(name)
}

/** One deny rule: `program` (a file name) refuses any argument `pattern` matches. */
export interface DenyRule {
  readonly program: string
  /** Only when argv also holds this word (`git rebase:-x`): a flag harmless elsewhere. */
  readonly subcommand?: string | undefined
  /**
   * `--eval` (also `--eval=…` and its abbreviations), `-x` (also inside `-ix` or stuck as `-xcmd`),
   * `-exec` (exactly), a word (exactly), a `*` glob, or a `/regular expression/`.
   */
  readonly pattern: string
}

const escapeRegExp = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")

/** Whether `arg` is what `pattern` denies (see DenyRule). */
export const matchesRule = (pattern: string, arg: string): boolean => {
  if (pattern.length > 2 && pattern.startsWith("/") && pattern.endsWith("/")) {
    try {
      return new RegExp(pattern.slice(1, -1), "s").test(arg)
    } catch {
      return true // a broken pattern refuses rather than allows (config validation reports it)
    }
  }
  if (pattern.includes("*")) {
    return new RegExp(`^${pattern.split("*").map(escapeRegExp).join(".*")}$`, "s").test(arg)
  }
  if (pattern.startsWith("--") && pattern.length > 2) {
    // Long options: exact, `--opt=value`, and the unique abbreviations git and npm accept.
    if (!arg.startsWith("--") || arg.length <= 2) return false
    const name = arg.slice(2).split("=")[0]!
    return name.length > 0 && pattern.slice(2).startsWith(name)
  }
  if (/^-[A-Za-z0-9]$/.test(pattern)) {
    // A short option: alone, stuck to its value (`-xcmd`) or in a cluster (`-ix`).
    return arg === pattern || (/^-[^-]/.test(arg) && arg.includes(pattern[1]!))
  }
  return arg === pattern
}

/** A word and its abbreviations of two letters or more, as a rule pattern: `/^(?:ed|edi|edit)$/`. */
const abbreviations = (word: string) =>
  `/^(?:${Array.from({ length: word.length - 1 }, (_, i) => escapeRegExp(word.slice(0, i + 2))).join("|")})$/`

/**
 * Built-in rules for the programs people allow most. They refuse what runs other commands or
 * rewrites what later runs them (config, hooks, templates, install scripts), not everyday use:
 * `git status|log|diff|pull|push|commit`, `make build`, `npm test|ci|run build`, `find -name` stay fine.
 */
export const DEFAULT_DENY: ReadonlyArray<string> = [
  // git: config and aliases on the command line (`-c alias.x='!sh'`, core.fsmonitor, core.sshCommand …)
  "git:-c", "git:--config-env", "git:--config", "git:--exec-path", "git:--template",
  // … programs git runs by name
  "git:--upload-pack", "git:--receive-pack", "git clone:-u", "git:--exec", "git rebase:-x", "git grep:-O",
  "git:--open-files-in-pager", "git:--output", "git:*ext::*", "git:*fd::*",
  // … subcommands that run commands or write config
  "git:config", "git:submodule", "git:bisect", "git:filter-branch", "git:difftool", "git:mergetool", "git:send-email",
  "git:instaweb", "git:daemon", "git:credential", "git:hook", "git:web--browse",
  // make: another makefile, extra rules, or a variable that rewrites every recipe (`CC='sh -c …'`)
  "make:--eval", "make:-E", "make:-f", "make:--file", "make:--makefile", "make:/^[^-][^=]*=/",
  // npm: running or installing packages from anywhere, changing what scripts run with (npm takes
  // unique abbreviations of its commands: `npm exe` is `npm exec`)
  ...[
    "exec", "explore", "edit", "init", "create", "pkg", "config", "set", "install", "add", "update", "upgrade",
    "install-test", "rebuild", "link", "publish", "unpublish", "token", "adduser", "login"
  ].map((command) => `npm:${abbreviations(command)}`),
  "npm:x", "npm:i", "npm:in", "npm:innit", "npm:isnt", "npm:isntall", "npm:udpate", "npm:up", "npm:it", "npm:rb", "npm:ln",
  "npm:--script-shell", "npm:--shell", "npm:--call", "npm:--node-options", "npm:--userconfig", "npm:--globalconfig",
  "npm:--registry", "npm:--git", "npm:--browser", "npm:--editor", "npm:--viewer",
  // find: actions that run programs, write files or delete
  "find:-exec", "find:-execdir", "find:-ok", "find:-okdir", "find:-fprint", "find:-fprint0", "find:-fprintf", "find:-fls",
  "find:-delete"
]

/** `program[ subcommand]:pattern` (SWITCHBOARD_EXEC_DENY entries) → a rule; undefined when malformed. */
export const parseRule = (entry: string): DenyRule | undefined => {
  const i = entry.indexOf(":")
  if (i <= 0 || i === entry.length - 1) return undefined
  const [program, subcommand, ...rest] = entry.slice(0, i).trim().split(/\s+/)
  if (program === undefined || rest.length > 0) return undefined
  const pattern = entry.slice(i + 1).trim()
  if (pattern.length > 2 && pattern.startsWith("/") && pattern.endsWith("/")) {
    try {
      new RegExp(pattern.slice(1, -1))
    } catch {
      return undefined
    }
  }
  return { program: baseName(program), subcommand, pattern }
}

export const defaultRules = (): ReadonlyArray<DenyRule> => DEFAULT_DENY.map((entry) => parseRule(entry)!)

export const showRule = (rule: DenyRule) => `${rule.program}${rule.subcommand ? ` ${rule.subcommand}` : ""}:${rule.pattern}`

/** The first rule `argv` breaks, with the argument; `names` are argv[0]'s names (as given, resolved). */
export const deniedArgument = (
  rules: ReadonlyArray<DenyRule>,
  names: ReadonlyArray<string>,
  argv: ReadonlyArray<string>
): { readonly arg: string; readonly rule: DenyRule } | undefined => {
  const programs = new Set(names.map(baseName))
  const args = argv.slice(1)
  for (const rule of rules) {
    if (!programs.has(rule.program)) continue
    if (rule.subcommand !== undefined && !args.includes(rule.subcommand)) continue
    for (const arg of args) if (matchesRule(rule.pattern, arg)) return { arg, rule }
  }
  return undefined
}

/**
 * Whether argv runs without asking: an entry of SWITCHBOARD_EXEC_AUTO is a program (`make`) or a
 * program with its leading arguments (`git status`), and argv must start with exactly those words.
 */
export const autoApproved = (auto: ReadonlyArray<string>, argv: ReadonlyArray<string>): boolean =>
  auto.some((entry) => {
    const words = entry.trim().split(/\s+/).filter((w) => w.length > 0)
    return words.length > 0 && words.length <= argv.length && words.every((w, i) => argv[i] === w)
  })

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/

/**
 * argv as one line that means exactly that argv to a POSIX shell, with control characters made
 * visible (`$'\x1b'`): what the person approves is what runs.
 */
export const showArgv = (argv: ReadonlyArray<string>): string =>
  argv.map((arg) => {
    if (SAFE_WORD.test(arg)) return arg
    // Control characters and backticks (which would end the code block the argv is shown in).
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f`]/.test(arg)) {
      const escaped = [...arg].map((c) => {
        const code = c.charCodeAt(0)
        if (c === "'" || c === "\\") return `\\${c}`
        return code < 0x20 || code === 0x7f || c === "`" ? `\\x${code.toString(16).padStart(2, "0")}` : c
      }).join("")
      return `$'${escaped}'`
    }
    return `'${arg.replace(/'/g, "'\\''")}'`
  }).join(" ")
