import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import {
  assertTransition,
  canTransition,
  isTerminal,
  type RoundPhase,
  RoundPhaseSchema,
} from '../../src/domain/phase.js';

const PHASES = RoundPhaseSchema.options;

/** Every legal move, written out by hand from the state machine. */
const LEGAL: [RoundPhase, RoundPhase][] = [
  ['collecting', 'generating'],
  ['collecting', 'cancelled'],
  ['generating', 'polling'],
  ['generating', 'failed'],
  ['generating', 'cancelled'],
  ['polling', 'critiquing'],
  ['polling', 'closed'],
  ['polling', 'cancelled'],
  ['critiquing', 'revising'],
  ['critiquing', 'closed'],
  ['critiquing', 'cancelled'],
  ['revising', 'polling'],
  ['revising', 'failed'],
  ['revising', 'cancelled'],
  ['failed', 'generating'],
  ['failed', 'revising'],
  ['failed', 'closed'],
  ['failed', 'cancelled'],
];
const isLegal = (from: RoundPhase, to: RoundPhase) =>
  LEGAL.some(([f, t]) => f === from && t === to);

describe('the round state machine', () => {
  const all = PHASES.flatMap((from) => PHASES.map((to) => [from, to] as const));

  it.each(all)('%s -> %s is allowed exactly when the table says so', (from, to) => {
    expect(canTransition(from, to)).toBe(isLegal(from, to));
    if (isLegal(from, to)) expect(() => assertTransition(from, to)).not.toThrow();
    else expect(() => assertTransition(from, to)).toThrow(DomainError);
  });

  it('says what the round is doing and which command goes on, without phase names', () => {
    expect(() => assertTransition('collecting', 'critiquing')).toThrow(
      'This round is collecting opinions, so it cannot take critiques yet. There is no statement yet: `close` the round first to write one.',
    );
    expect(() => assertTransition('collecting', 'closed')).toThrow(
      /cannot be finished yet.*`close`/,
    );
    expect(() => assertTransition('critiquing', 'critiquing')).toThrow(
      /already takes critiques: `close` writes the revision/,
    );
    expect(() => assertTransition('closed', 'polling')).toThrow(/It is over\./);
    expect(() => assertTransition('failed', 'critiquing')).toThrow(
      'This round failed, so it cannot take critiques yet. `close` tries again.',
    );
    for (const [from, to] of all) {
      if (isLegal(from, to)) continue;
      let message = '';
      try {
        assertTransition(from, to);
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).not.toMatch(/from here|"(generating|revising|critiquing|polling)"/);
    }
  });

  it('ends only in closed and cancelled', () => {
    expect(PHASES.filter(isTerminal)).toEqual(['closed', 'cancelled']);
  });
});
