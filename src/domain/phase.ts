import { z } from 'zod';
import { DomainError } from './errors.js';

/**
 * collecting -> generating -> polling -> [critiquing -> revising -> polling]* -> closed,
 * plus cancelled and failed. A failed generation or revision may be retried; after a
 * failed revision the round may also be finished on its last poll.
 */
export const RoundPhaseSchema = z.enum([
  'collecting',
  'generating',
  'polling',
  'critiquing',
  'revising',
  'closed',
  'cancelled',
  'failed',
]);
export type RoundPhase = z.infer<typeof RoundPhaseSchema>;

const TRANSITIONS: Record<RoundPhase, readonly RoundPhase[]> = {
  collecting: ['generating', 'cancelled'],
  generating: ['polling', 'failed', 'cancelled'],
  polling: ['critiquing', 'closed', 'cancelled'],
  critiquing: ['revising', 'closed', 'cancelled'],
  revising: ['polling', 'failed', 'cancelled'],
  // A failed revision leaves the last poll standing: it may still be finished.
  failed: ['generating', 'revising', 'closed', 'cancelled'],
  closed: [],
  cancelled: [],
};

const DESCRIPTIONS: Record<RoundPhase, string> = {
  collecting: 'collecting opinions',
  generating: 'generating candidate statements',
  polling: 'polling members on the statement',
  critiquing: 'collecting critiques',
  revising: 'revising the statement',
  closed: 'finished',
  cancelled: 'cancelled',
  failed: 'failed',
};

export function describePhase(phase: RoundPhase): string {
  return DESCRIPTIONS[phase];
}

export function canTransition(from: RoundPhase, to: RoundPhase): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isTerminal(phase: RoundPhase): boolean {
  return TRANSITIONS[phase].length === 0;
}

/** Throws a DomainError naming both phases when the move is not allowed. */
export function assertTransition(from: RoundPhase, to: RoundPhase): void {
  if (!canTransition(from, to)) {
    const allowed = TRANSITIONS[from];
    throw new DomainError(
      'illegal_transition',
      `This round is ${describePhase(from)}; it cannot move to "${to}"` +
        (allowed.length ? ` (from here: ${allowed.join(', ')}).` : ' (it is over).'),
    );
  }
}
