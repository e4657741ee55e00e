// What a person wrote in Slack, as plain text for the agent: a leading mention of the bot removed
// (so `@switchboard /stop` is the command `/stop`), mentions and links made readable, Slack's
// escapes (&amp; &lt; &gt;) decoded. Pure.

const readable = (target: string, label: string | undefined): string => {
  if (target.startsWith("@") || target.startsWith("#")) return `${target[0]}${label ?? target.slice(1)}`
  if (target.startsWith("!")) return `@${(label ?? target.slice(1)).replace(/^subteam\^/, "")}`
  if (label === undefined || label === target || `mailto:${label}` === target) return target.replace(/^mailto:/, "")
  return `${label} (${target})`
}

export const incomingText = (text: string, botUserId: string | undefined): string => {
  const withoutMention = botUserId === undefined
    ? text
    : text.replace(new RegExp(`^\\s*<@${botUserId}(?:\\|[^>]*)?>[\\s:,]*`), "")
  return withoutMention
    .replace(/<([^<>|\s]+)(?:\|([^<>]*))?>/g, (_, target: string, label: string | undefined) => readable(target, label))
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&")
    .trim()
}
