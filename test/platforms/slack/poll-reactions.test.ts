import { afterEach, describe, expect, it } from 'vitest';
import { roundWithOpinions, SCOPE, type Stack, startStack, until } from './support.js';

describe('Slack: the poll reactions under a statement', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('puts up the others when Slack refuses one, and the poll opens with its statement posted once', async () => {
    s = await startStack();
    const { round } = await roundWithOpinions(s);
    // The first reactions.add fails (say, the message hit Slack's reaction cap).
    s.fake.fail('reactions.add', 'too_many_reactions', 1);
    await s.command('UMOD', 'close');
    await until(async () => s.fake.calls.filter((c) => c.method === 'reactions.add').length === 3);
    const added = s.fake.calls.filter((c) => c.method === 'reactions.add');
    expect(added.map((c) => [c.args.name, c.response?.ok])).toEqual([
      ['+1', false],
      ['shrug', true],
      ['-1', true],
    ]);
    await until(
      async () =>
        (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'polling' || null,
    );
    await s.settle();
    const statements = s.fake
      .ok('chat.postMessage')
      .filter((c) => String(c.args.text).startsWith('Proposed statement'));
    expect(statements).toHaveLength(1);
    expect(s.log.lines.filter((l) => l.message === 'could not add a poll reaction')).toHaveLength(
      1,
    );
  }, 20_000);
});
