import { onlyMentions } from '../mentions.js';

/** Discord's mention tokens that call people: a member, a role, everyone or here. */
const MENTION = /<@[!&]?\d{15,21}>|@everyone|@here/g;
const USER = /<@!?(\d{15,21})>/g;
const ROLE = /<@&\d{15,21}>/g;
const CHANNEL = /<#\d{15,21}>/g;
const EMOJI = /<a?:(\w+):\d{15,21}>/g;
const COMMAND = /<\/([^:<>]+):\d{15,21}>/g;

/**
 * A member's reply as plain text, the same from the gateway and from a reread over REST:
 * a mention becomes `@name` (the name Discord sent with the message, else the id, as
 * Slack's replies read `@U…`), a role `@role`, a channel `#channel`, a custom emoji
 * `:name:`, a command `/name`. A reply of mentions alone is no opinion: '' (see
 * `onlyMentions`), which the service counts as an empty reply.
 */
export function replyFromDiscord(content: string, names: ReadonlyMap<string, string>): string {
  if (onlyMentions(content, MENTION)) return '';
  return content
    .replace(USER, (_, id: string) => `@${names.get(id) ?? id}`)
    .replace(ROLE, '@role')
    .replace(CHANNEL, '#channel')
    .replace(EMOJI, ':$1:')
    .replace(COMMAND, '/$1');
}
