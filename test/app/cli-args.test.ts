import { describe, expect, it } from 'vitest';
import { joinValues, onceEach } from '../../src/app/cli-args.js';

describe('command-line arguments', () => {
  it('joins a value-taking flag and a value that starts with a dash, and nothing else', () => {
    const flags = new Set(['seed']);
    expect(joinValues(['--seed', '-1', '--json'], flags)).toEqual(['--seed=-1', '--json']);
    // A flag whose value was left out stays one, for parseArgs to say so.
    expect(joinValues(['--seed', '--json'], flags)).toEqual(['--seed', '--json']);
    expect(joinValues(['--other', '-1'], flags)).toEqual(['--other', '-1']);
  });

  it('refuses an option given twice, in either spelling, but not a value after --', () => {
    expect(() => onceEach(['--seed=1', '--seed', '2'])).toThrow('--seed is given twice');
    expect(onceEach(['--seed', '1', '--', '--seed'])).toEqual(['--seed', '1', '--', '--seed']);
    expect(onceEach(['a', 'a', '--json'])).toEqual(['a', 'a', '--json']);
  });
});
