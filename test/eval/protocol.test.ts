import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConversation } from '../../src/eval/polis.js';
import { bridgingTruth, prepare, type Row } from '../../src/eval/protocol.js';
import { evaluateConversation, formatTable, meanRows, toJson } from '../../src/eval/table.js';
import { EVAL_JSON_KEYS, syntheticExport } from './helpers.js';

const FIXTURE = join(import.meta.dirname, '../fixtures/polis/london.youth.policing');

function expectNoNaN(rows: readonly Row[]) {
  for (const row of rows) {
    for (const [key, value] of Object.entries(row)) {
      if (typeof value === 'number')
        expect(Number.isFinite(value), `${row.method} ${key}`).toBe(true);
    }
  }
}

describe('evaluation protocol', () => {
  it('prints every method on the london fixture with the keys of EVAL.md 5', () => {
    const rows = evaluateConversation(loadConversation(FIXTURE));
    expect(rows.map((r) => r.method)).toEqual([
      'comment mean',
      'Polis groups',
      'voter mean',
      'MF one-factor',
      'model',
    ]);
    expectNoNaN(rows);
    const json = JSON.parse(toJson(rows)) as Record<string, unknown>[];
    expect(Object.keys(json[0] ?? {})).toEqual(EVAL_JSON_KEYS);
    const voterMean = json.find((r) => r.method === 'voter mean');
    expect(voterMean?.A_auc).toBeNull();
    expect(voterMean?.D_auc).toEqual(expect.any(Number));
    // London's groups are all smaller than five: task C is n/a, count included.
    expect(rows.every((r) => r.C_n === null && r.C_rho === null)).toBe(true);
    expect(formatTable([...rows, ...meanRows(rows)])).toContain('london.youth.policing  model');
  });

  it('reports n/a, not NaN, for a conversation with one participant', () => {
    const folder = syntheticExport(
      'one-participant',
      ['a', 'b', 'c', 'd', 'e', 'f'],
      [[1, -1, 1, 0, -1, 1]],
    );
    const rows = evaluateConversation(loadConversation(folder));
    expectNoNaN(rows);
    expect(rows.every((r) => r.B_rho === null && r.C_rho === null && r.D_rho === null)).toBe(true);
  });

  it('reports n/a, not NaN, for a conversation with one comment', () => {
    const votes = Array.from({ length: 30 }, (_, u) => [u % 3 === 0 ? -1 : 1]);
    const folder = syntheticExport('one-comment', ['the only statement'], votes);
    const rows = evaluateConversation(loadConversation(folder));
    expectNoNaN(rows);
    expect(rows.every((r) => r.B_rho === null && r.D_rho === null)).toBe(true);
  });

  it('computes task C truth as exact products over groups of five or more', () => {
    // 12 voters in two groups of 6, all voting on 10 comments: every comment has test votes
    // from the hash split; groups of fewer than 5 would be left out.
    const votes = Array.from({ length: 12 }, (_, u) =>
      Array.from({ length: 10 }, (_, c) => ((u + c) % 3 === 0 ? -1 : 1)),
    );
    const groups = votes.map((_, u) => (u < 6 ? 'a' : 'b'));
    const prepared = prepare(
      loadConversation(syntheticExport('groups', 'abcdefghij'.split(''), votes, groups)),
    );
    expect(prepared.bridgingGroupCount).toBe(2);
    const truth = bridgingTruth(prepared);
    expect(truth).not.toBeNull();
    for (const [i, c] of (truth?.eligible ?? []).entries()) {
      let expected = 1;
      for (const group of ['a', 'b']) {
        const test = prepared.testVotes.filter((v) => v.comment === c && groups[v.voter] === group);
        const agrees = test.filter((v) => v.vote === 1).length;
        expected *= (agrees + 1) / (test.length + 2);
      }
      expect(truth?.truth[i]?.toNumber()).toBeCloseTo(expected, 12);
    }
  });
});
