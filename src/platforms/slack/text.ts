/**
 * Slack's message format in and out. Incoming text carries control sequences (`<@U1>`,
 * `<https://x|label>`) and HTML entities; the models and the store get plain text, so a
 * statement built from opinions never pings anyone or smuggles a link back into Slack.
 */

import { wholeEnd } from '../../domain/limits.js';
import { onlyMentions } from '../mentions.js';

const CONTROL = /<([^<>]*)>/g;

/** Plain text from a message's or command's `text`. */
export function fromSlack(text: string): string {
  const plain = text.replace(CONTROL, (_, inner: string) => {
    const [target = '', label] = splitOnce(inner, '|');
    if (target.startsWith('@')) return `@${label ?? target.slice(1)}`;
    if (target.startsWith('#')) return `#${label ?? target.slice(1)}`;
    if (target.startsWith('!subteam^')) return label ?? '@group';
    if (target.startsWith('!date^')) return label ?? '';
    if (target.startsWith('!')) return `@${target.slice(1)}`;
    return label && label !== target ? `${label} (${target})` : target;
  });
  return plain.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&');
}

/** Slack's mention tokens that call people: a member, a user group, here, channel, everyone. */
const MENTION = /<(?:@[UW][A-Z0-9]+|!(?:here|channel|everyone)|!subteam\^[A-Z0-9]+)(?:\|[^<>]*)?>/g;

/**
 * A member's reply as plain text (`fromSlack`); a reply of mentions alone is no opinion:
 * '' (see `onlyMentions`), which the service counts as an empty reply.
 */
export function replyFromSlack(text: string): string {
  return onlyMentions(text, MENTION) ? '' : fromSlack(text);
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** Text members wrote, made inert for mrkdwn: `<` `>` `&` would start control sequences. */
export function escapeText(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const OUR_TOKENS = /<(?:@[UW][A-Z0-9]+|#[CG][A-Z0-9]+(?:\|[^<>]*)?)>/g;

/**
 * Text the service wrote (notices, refusals): it may mention members (`<@U1>`) on
 * purpose, but anything else in angle brackets ("start <question>") must show literally.
 */
export function escapeKeepingMentions(text: string): string {
  let out = '';
  let last = 0;
  for (const match of text.matchAll(OUR_TOKENS)) {
    out += escapeText(text.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  return out + escapeText(text.slice(last));
}

export const mention = (userId: string): string => `<@${userId}>`;

export const percent = (x: number | null): string =>
  x === null ? 'n/a' : `${Math.round(x * 100)}%`;

/** `1700000000.000100` -> epoch ms; Slack ts are seconds with microseconds as a string. */
export function tsToMs(ts: string): number {
  const [seconds = '0', fraction = ''] = ts.split('.');
  return Number(seconds) * 1000 + Number(fraction.padEnd(3, '0').slice(0, 3));
}

/**
 * The time a reply's text was written, for ordering its versions: the edit's, or the
 * message's own. Slack gives an edit's time in whole seconds, so an edit in the second
 * its message was posted reads as older than the message; no edit is, and none is as old
 * either, or the message's own event arriving after the edit would bring its first text
 * back.
 */
export function revisionMs(messageTs: string, editedTs: string | null | undefined): number {
  const posted = tsToMs(messageTs);
  return editedTs ? Math.max(tsToMs(editedTs), posted + 1) : posted;
}

/** A date Slack renders in each reader's own time zone. */
export function slackDate(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return `<!date^${seconds}^{date_short_pretty} at {time}|${new Date(ms).toISOString()}>`;
}

/**
 * Splits text into pieces of at most `max` characters, at line or word breaks where it
 * can: a section block holds 3,000 characters and a statement may be longer.
 */
export function chunk(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const window = rest.slice(0, max);
    const cut = Math.max(window.lastIndexOf('\n'), window.lastIndexOf(' '));
    const at = cut > max / 2 ? cut : wholeEnd(rest, max);
    pieces.push(rest.slice(0, at));
    rest = rest.slice(at).replace(/^[ \n]/, '');
  }
  pieces.push(rest);
  return pieces;
}
