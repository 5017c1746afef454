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
  failed: 'stopped by an error',
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

/** What a move does, in the words of the command that asks for it. */
const MOVES: Record<RoundPhase, string> = {
  collecting: 'collect opinions again',
  generating: 'write a statement now',
  polling: 'open a poll now',
  critiquing: 'take critiques yet',
  revising: 'be revised now',
  closed: 'be finished yet',
  cancelled: 'be cancelled',
  failed: 'fail',
};

/** The way on from a phase, as the commands a member can run. */
function wayOn(from: RoundPhase, to: RoundPhase): string {
  if (isTerminal(from)) return 'It is over.';
  switch (from) {
    case 'collecting':
      return 'There is no statement yet: `close` the round first to write one.';
    case 'generating':
    case 'revising':
      return 'The statement is being written; try again once it is posted.';
    case 'critiquing':
      return to === 'critiquing'
        ? 'It already takes critiques: `close` writes the revision, `finish` ends it.'
        : '`close` writes the revision from the critiques, `finish` ends the round.';
    case 'polling':
      return 'Members are rating its statement: `critique` revises it, `finish` ends the round.';
    case 'failed':
      return '`close` tries again.';
    default:
      return '';
  }
}

/** "This round is collecting opinions"; a failure is an event, not a state to be in. */
function whereItStands(phase: RoundPhase): string {
  return phase === 'failed' ? 'This round failed' : `This round is ${describePhase(phase)}`;
}

/**
 * Throws a DomainError when the move is not allowed. Members read it, so it speaks of
 * what the round is doing and the commands that go on from there, not of phase names.
 */
export function assertTransition(from: RoundPhase, to: RoundPhase): void {
  if (!canTransition(from, to)) {
    throw new DomainError(
      'illegal_transition',
      `${whereItStands(from)}, so it cannot ${MOVES[to]}. ${wayOn(from, to)}`.trim(),
    );
  }
}
