/**
 * Poll options as Slack reactions. The bot adds the first name of each option itself;
 * members may react with any alias of it (Slack reports `thumbsup` as `+1` in most
 * clients but not all) and with any skin tone (`+1::skin-tone-3`).
 */
const ALIASES: Record<string, readonly string[]> = {
  agree: ['+1', 'thumbsup'],
  unsure: ['shrug', 'man-shrugging', 'woman-shrugging', 'person_shrugging'],
  disagree: ['-1', 'thumbsdown'],
  '1': ['one'],
  '2': ['two'],
  '3': ['three'],
  '4': ['four'],
  '5': ['five'],
  '6': ['six'],
  '7': ['seven'],
};

const OPTION_OF = new Map<string, string>(
  Object.entries(ALIASES).flatMap(([key, names]) => names.map((name) => [name, key] as const)),
);

/** The option a reaction stands for, or null for any other emoji. */
export function optionKeyFor(reaction: string): string | null {
  const base = reaction.split('::')[0] ?? reaction;
  return OPTION_OF.get(base) ?? null;
}

/** The reaction the bot adds for an option (and shows in the poll's legend). */
export function emojiFor(optionKey: string): string {
  const name = ALIASES[optionKey]?.[0];
  if (!name) throw new Error(`no emoji for poll option "${optionKey}"`);
  return name;
}
