/**
 * The id an anonymous round stores a member's rating under. Both the ingestion of ratings
 * and the reminder (which matches opinion authors to raters) need the same one, so it is
 * made here once. Not in src/domain/ because it hashes with node:crypto, which the pure
 * layer may not import.
 */
import { createHmac } from 'node:crypto';
import type { Round } from '../domain/round.js';

/**
 * A rating's participant id in an anonymous round: stable per member and round (one
 * rating each, changeable), but not their platform id.
 */
export function pseudonym(round: Round, userId: string): string {
  const digest = createHmac('sha256', `${round.id}:${round.seed}`).update(userId).digest('hex');
  return `anon-${digest.slice(0, 16)}`;
}

/** The id a member's rating is stored under in this round: a pseudonym if it is anonymous. */
export function ratingIdOf(round: Round, userId: string): string {
  return round.settings.anonymous ? pseudonym(round, userId) : userId;
}
