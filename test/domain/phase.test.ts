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

  it('names both phases and the way out in the error', () => {
    expect(() => assertTransition('collecting', 'polling')).toThrow(
      /collecting opinions; it cannot move to "polling" \(from here: generating, cancelled\)/,
    );
    expect(() => assertTransition('closed', 'polling')).toThrow(/it is over/);
  });

  it('ends only in closed and cancelled', () => {
    expect(PHASES.filter(isTerminal)).toEqual(['closed', 'cancelled']);
  });
});
