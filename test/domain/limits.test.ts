import { describe, expect, it } from 'vitest';
import { clipWords, roughDuration } from '../../src/domain/limits.js';

describe('clipWords: text shown in part', () => {
  it('is left whole when it fits', () => {
    expect(clipWords('Four days a week.', 17)).toBe('Four days a week.');
  });

  it('ends at a word near the cut, not inside one', () => {
    const text = 'We try a four-day week for three months, then decide together.';
    const cut = clipWords(text, 30);
    expect(cut).toBe('We try a four-day week for…');
    expect(cut.length).toBeLessThanOrEqual(30);
  });

  it('cuts inside a word only when none ends near the limit, and never inside a character', () => {
    expect(clipWords(`${'a'.repeat(40)} b`, 20)).toBe(`${'a'.repeat(19)}…`);
    // The cut falls between the two halves of 😀: it goes before the whole character.
    expect(clipWords(`${'x'.repeat(18)}😀 tail`, 20)).toBe(`${'x'.repeat(18)}…`);
  });
});

describe('roughDuration: a span to come, in the unit it reads in', () => {
  it('from seconds to days, rounded to the nearest', () => {
    expect(roughDuration(45)).toBe('45 seconds');
    expect(roughDuration(60 * 60)).toBe('60 minutes');
    expect(roughDuration(2 * 3600)).toBe('2 hours');
    expect(roughDuration(7 * 86_400)).toBe('7 days');
    expect(roughDuration(1)).toBe('1 second');
  });
});
