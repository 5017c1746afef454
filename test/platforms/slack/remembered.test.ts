import { describe, expect, it } from 'vitest';
import { Remembered } from '../../../src/platforms/slack/remembered.js';

describe('Remembered', () => {
  it('asks once per key while an answer is fresh, and again once it is stale', async () => {
    let now = 0;
    const asked: string[] = [];
    const answers = new Remembered({
      lookUp: async (key) => {
        asked.push(key);
        return key.length;
      },
      ttlMs: 100,
      maxEntries: 10,
      now: () => now,
    });
    // A burst for one key before the first answer arrives asks once.
    expect(await Promise.all([answers.get('ab'), answers.get('ab')])).toEqual([2, 2]);
    now = 99;
    expect(await answers.get('ab')).toBe(2);
    now = 100;
    expect(await answers.get('ab')).toBe(2);
    expect(asked).toEqual(['ab', 'ab']);
  });

  it('forgets the oldest answer past maxEntries, and keeps neither a failure nor an answer keep refuses', async () => {
    const asked: string[] = [];
    let failing = true;
    const answers = new Remembered<string>({
      lookUp: async (key) => {
        asked.push(key);
        if (key === 'x' && failing) throw new Error('slack is down');
        return key === 'u' ? 'unknown' : key.toUpperCase();
      },
      ttlMs: 1_000,
      maxEntries: 2,
      keep: (value) => value !== 'unknown',
    });
    await answers.get('a');
    await answers.get('b');
    await answers.get('c'); // 'a' goes
    await answers.get('b');
    await answers.get('a');
    expect(asked).toEqual(['a', 'b', 'c', 'a']);
    await expect(answers.get('x')).rejects.toThrow('slack is down');
    failing = false;
    expect(await answers.get('x')).toBe('X');
    await answers.get('u');
    await answers.get('u');
    expect(asked.slice(4)).toEqual(['x', 'x', 'u', 'u']);
  });
});
