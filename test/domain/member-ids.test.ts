import { describe, expect, it } from 'vitest';
import { replaceMemberIds } from '../../src/domain/member-ids.js';

describe('replaceMemberIds', () => {
  it('replaces whole ids, longest first, and leaves other words alone', () => {
    expect(
      replaceMemberIds('judge failed for U123 and U12 (not U12X); <@U123>', ['U12', 'U123']),
    ).toBe('judge failed for a member and a member (not U12X); <@a member>');
  });

  it('treats characters of regular expressions in ids literally', () => {
    expect(replaceMemberIds('a.b and axb', ['a.b'])).toBe('a member and axb');
    expect(replaceMemberIds('nothing here', [''])).toBe('nothing here');
  });
});
