import { afterEach, describe, expect, it } from 'vitest';
import { message, reaction, SCOPE, type Stack, startRound, startStack, until } from './support.js';

/** Half of a surrogate pair: what a cut inside an emoji leaves, and Slack shows as �. */
const HALF_A_CHARACTER = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Every string inside a Slack call's arguments (blocks arrive as parsed JSON). */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

const OPINIONS: Record<string, string> = {
  U001: 'Oui 🌍, une semaine de quatre jours réduirait l’épuisement. 週休三日制に賛成です 🙂',
  U002: 'Нет. Клиенты ждут нас пять дней в неделю, и поддержка пострадает без пятницы.',
  U003: 'Only with a rota that keeps Friday support covered 🛟, and as a three-month trial first.',
};

describe('long texts with emoji on Slack', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('shortens a question in the results and status without cutting an emoji in half', async () => {
    s = await startStack();
    // The results and status show the question's first 300 characters: the cut falls
    // between the two UTF-16 halves of 😀.
    const question = `${'Should we, '.repeat(27)}a😀 and more words after the emoji, past the cut?`;
    expect(question.codePointAt(298)).toBe(0x1f600);
    const { round, questionTs } = await startRound(s, `start ${question}`);
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();
    await s.command('UMOD', 'close');
    const statement = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    await until(async () => s.runtime.store.messages.slot(SCOPE, round.id, 'statement:1'));
    await s.settle();
    await s.event(reaction(s, 'U001', '+1', String(statement.response?.ts)));
    await s.settle();
    await s.command('U002', 'status');
    await s.command('UMOD', 'finish');
    const results = await s.fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    await s.settle();
    const header = strings(results.args.blocks).find((t) => t.startsWith(':bar_chart:'));
    // Cut at the last word's end before the emoji, and so not through it either.
    const cut = `${question.slice(0, question.lastIndexOf(' ', 298)).trimEnd()}…`;
    expect(header).toBe(`:bar_chart: *Results:* ${cut}`);
    const status = s.fake.calls.filter((c) => c.method === 'respond').map((c) => c.args);
    expect(strings(status).join('\n')).toContain(cut);
    for (const call of s.fake.calls) {
      for (const text of strings(call.args)) expect(text).not.toMatch(HALF_A_CHARACTER);
    }
  });
});
