import { type PollOption, type PollScale, scaleAnchors } from '../../domain/poll-scale.js';

/**
 * The reaction for every poll option key. Keys are distinct across scales, so a
 * reaction maps to a key without knowing the poll; the service ignores keys that are
 * not on the poll's scale.
 */
const EMOJI_BY_KEY: Record<string, string> = {
  agree: '👍',
  unsure: '🤷',
  disagree: '👎',
  '1': '1️⃣',
  '2': '2️⃣',
  '3': '3️⃣',
  '4': '4️⃣',
  '5': '5️⃣',
  '6': '6️⃣',
  '7': '7️⃣',
};

/** Skin tones, variation selectors and gendered ZWJ suffixes do not change what a reaction says. */
function normalise(emoji: string): string {
  return emoji
    .replace(/\u200d[\u2640\u2642]\ufe0f?/gu, '')
    .replace(/[\u{1F3FB}-\u{1F3FF}]/gu, '')
    .replace(/\ufe0f/gu, '');
}

const KEY_BY_EMOJI = new Map<string, string>(
  Object.entries(EMOJI_BY_KEY).map(([key, emoji]) => [normalise(emoji), key]),
);

export function emojiFor(optionKey: string): string {
  const emoji = EMOJI_BY_KEY[optionKey];
  if (emoji === undefined) throw new Error(`no reaction for poll option "${optionKey}"`);
  return emoji;
}

/** The option key a reaction stands for, or null when it is not a poll reaction (custom emoji included). */
export function optionKeyFor(emojiName: string | null, emojiId: string | null): string | null {
  if (emojiId !== null || emojiName === null) return null;
  return KEY_BY_EMOJI.get(normalise(emojiName)) ?? null;
}

export function pollLegend(options: readonly PollOption[]): string {
  const anchors = scaleAnchors(options);
  return (
    options.map((o) => `${emojiFor(o.key)} ${o.label}`).join(' · ') +
    (anchors ? ` (${anchors})` : '')
  );
}

export function scaleReactions(scale: PollScale | string): string {
  return scale === 'likert7'
    ? ['1', '2', '3', '4', '5', '6', '7'].map(emojiFor).join(' ')
    : ['agree', 'unsure', 'disagree'].map(emojiFor).join(' ');
}

const SUPER_SUFFIX = '#super';

/**
 * The variant a reaction is stored under: the emoji as Discord names it, marked when it is
 * a super reaction (burst). A member can give one emoji both ways, and each is removed on
 * its own, so taking back one leaves the rating the other still gives.
 */
export function reactionVariant(emojiName: string, burst: boolean): string {
  return burst ? `${emojiName}${SUPER_SUFFIX}` : emojiName;
}

/** The emoji a stored variant was made from, normal or super alike. */
export function variantEmoji(variant: string): string {
  return variant.endsWith(SUPER_SUFFIX) ? variant.slice(0, -SUPER_SUFFIX.length) : variant;
}
