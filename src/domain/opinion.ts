import { z } from 'zod';
import { LIMITS, wholeEnd } from './limits.js';

/** One platform message that contributes to a member's opinion (or critique). */
export const ContributionSchema = z.object({
  messageId: z.string().min(1),
  text: z.string(),
  at: z.number().int(),
});
export type Contribution = z.infer<typeof ContributionSchema>;

/**
 * A member's opinion is every reply they wrote in the thread, joined in order.
 * An edit replaces one contribution, a deletion removes it.
 */
export const OpinionSchema = z.object({
  participantId: z.string().min(1),
  text: z.string().min(1),
  /** True when the joined text was longer than the limit and was cut. */
  truncated: z.boolean(),
  originalLength: z.number().int().min(0),
});
export type Opinion = z.infer<typeof OpinionSchema>;

export const TRUNCATION_NOTE = ' […truncated]';

/**
 * Emoji as chat text spells them (Slack's `:+1:` and `:skin-tone-2:`, Discord's custom
 * `:rota:` once read), and keycaps (1️⃣), whose digit is no number anyone wrote.
 */
const EMOJI_SPELLED = /:[\w+'-]+:|\p{N}\uFE0F?\u20E3/gu;

/**
 * Whether a reply says anything a statement could be built from: a letter or a digit once
 * emoji are set aside. Zero-width characters (U+200B, which trim() keeps), emoji and
 * punctuation alone say nothing, and counting them would let a round reach its minimum
 * of opinions without one.
 */
export function hasWords(text: string): boolean {
  return /[\p{L}\p{N}]/u.test(text.replace(EMOJI_SPELLED, ' '));
}

/** Joins a member's contributions into one opinion; null when nothing is left. */
export function joinContributions(
  participantId: string,
  contributions: readonly Contribution[],
  maxChars: number = LIMITS.opinionMaxChars,
): Opinion | null {
  const joined = [...contributions]
    .sort((a, b) => a.at - b.at || a.messageId.localeCompare(b.messageId))
    .map((c) => c.text.trim())
    .filter((t) => t.length > 0)
    .join('\n');
  if (joined.length === 0) return null;
  if (joined.length <= maxChars) {
    return { participantId, text: joined, truncated: false, originalLength: joined.length };
  }
  const end = wholeEnd(joined, maxChars - TRUNCATION_NOTE.length);
  const cut = joined.slice(0, end).trimEnd() + TRUNCATION_NOTE;
  return { participantId, text: cut, truncated: true, originalLength: joined.length };
}
