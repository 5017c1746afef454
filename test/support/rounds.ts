import { DEFAULT_SETTINGS, type Round } from '../../src/domain/round.js';

/** A round as the store holds it, collecting opinions; `fields` replace the defaults. */
export function storedRound(fields: Partial<Round> & Pick<Round, 'id' | 'scope'>): Round {
  return {
    channelId: 'C1',
    question: 'Should we?',
    createdBy: 'U1',
    createdAt: 1_000,
    deadline: null,
    settings: DEFAULT_SETTINGS,
    phase: 'collecting',
    questionRef: null,
    version: 0,
    attempt: 0,
    failureReason: null,
    seed: 42,
    followUpPending: false,
    ...fields,
  };
}
