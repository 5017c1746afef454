import { afterEach, describe, expect, it } from 'vitest';
import { chartSize } from '../../../src/platforms/chart/results-chart.js';
import { decodePng, pngSize } from '../../support/png.js';
import { message, reaction, SCOPE, type Stack, startRound, startStack, until } from './support.js';

const OPINIONS: Record<string, string> = {
  U001: 'Yes. A four-day week would reduce burnout and help us focus on the work that matters most.',
  U002: 'No. Our customers expect us five days a week, and support would suffer without Friday cover.',
  U003: 'Only with a rota that keeps Friday support covered, and as a three-month trial first.',
};

/** Issue 7's "done when": two versions of a statement, a critique round between them. */
describe('Slack: a critique round from start to the chart', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('polls version 1, takes critiques, polls the revision and reports both with a chart', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(s);
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();

    // The poll takes ratings once the bot has put its own reactions on the statement.
    const pollReady = (ts: string) =>
      until(
        async () => fake.ok('reactions.add').filter((c) => c.args.timestamp === ts).length === 3,
      );
    const statementPost = (version: number) =>
      fake.waitFor(
        (c) =>
          c.method === 'chat.postMessage' &&
          String(c.args.text).startsWith('Proposed statement') &&
          JSON.stringify(c.args.blocks).includes(`(version ${version})`) &&
          c.status === 200,
      );

    // Version 1: close, then two members rate it.
    expect((await s.command('UMOD', 'close')).status).toBe(200);
    const v1Ts = String((await statementPost(1)).response?.ts);
    await pollReady(v1Ts);
    await s.event(reaction(s, 'U001', '+1', v1Ts));
    await s.event(reaction(s, 'U002', '-1', v1Ts));
    await s.settle();

    // The critique round: its invitation lands in the thread, replies are critiques.
    expect((await s.command('UMOD', 'critique')).status).toBe(200);
    const invite = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('What does the statement miss?'),
    );
    expect(invite.args.thread_ts).toBe(questionTs);
    await s.event(
      message(
        s,
        'U002',
        'It says nothing about who covers customer support on Fridays.',
        questionTs,
      ),
    );
    await s.settle();
    const critiques = await runtime.store.contributions.list(SCOPE, round.id, 'critique', 1);
    expect(critiques.map((c) => c.participantId)).toEqual(['U002']);

    // Version 2: the revision gets its own poll; three members rate it.
    expect((await s.command('UMOD', 'close')).status).toBe(200);
    const v2Post = await statementPost(2);
    const v2Ts = String(v2Post.response?.ts);
    expect(v2Ts).not.toBe(v1Ts);
    await pollReady(v2Ts);
    await s.event(reaction(s, 'U001', '+1', v2Ts));
    await s.event(reaction(s, 'U002', 'shrug', v2Ts));
    await s.event(reaction(s, 'U003', '+1', v2Ts));
    await s.settle();

    expect((await s.command('UMOD', 'finish')).status).toBe(200);
    const results = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    const [v1, v2] = await Promise.all([
      runtime.store.polls.poll(SCOPE, round.id, 1),
      runtime.store.polls.poll(SCOPE, round.id, 2),
    ]);
    if (!v1 || !v2) throw new Error('both versions should have a poll');
    // The headline is the latest version's; the blocks list both, each with its distribution.
    // The text (notifications, screen readers) sums up every version, not the last alone.
    expect(results.args.text).toBe(
      'Results: version 1: 2 ratings, mean approval 50%; version 2: 3 ratings, mean approval 83%.',
    );
    const body = JSON.stringify(results.args.blocks);
    const sectionOf = (version: number) => {
      const blocks = results.args.blocks as { text?: { text?: string } }[];
      return blocks
        .map((b) => b.text?.text ?? '')
        .find((t) => t.startsWith(`*Version ${version}:*`));
    };
    expect(sectionOf(1)).toContain('2 ratings');
    expect(sectionOf(1)).toContain(':+1: agree: 1');
    expect(sectionOf(1)).toContain(':-1: disagree: 1');
    expect(sectionOf(1)).toContain('Mean approval: 50%');
    expect(sectionOf(2)).toContain('3 ratings');
    expect(sectionOf(2)).toContain(':+1: agree: 2');
    expect(sectionOf(2)).toContain(':shrug: unsure: 1');
    expect(sectionOf(2)).toContain('Mean approval: 83%');
    expect(body.indexOf('*Version 1:*')).toBeLessThan(body.indexOf('*Version 2:*'));

    // The chart compares both versions: a real, decodable PNG two versions tall.
    await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
    const upload = fake.calls.find((c) => c.method === 'upload');
    const png = upload?.args.data as Buffer;
    expect(pngSize(png)).toEqual(chartSize(2));
    expect(chartSize(2).height).toBeGreaterThan(chartSize(1).height);
    const decoded = decodePng(png);
    expect(decoded).toMatchObject(chartSize(2));
    expect(fake.calls.every((c) => c.status === 200)).toBe(true);
  });
  it('--revise-below without a poll deadline: the last member’s rating under it starts the critique', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --revise-below 60 Should our team adopt a four-day week?',
    );
    expect(round.settings).toMatchObject({ reviseBelow: 60, pollMinutes: null });
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();
    expect((await s.command('UMOD', 'close')).status).toBe(200);
    const statement = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('Proposed statement') &&
        c.status === 200,
    );
    const ts = String(statement.response?.ts);
    await until(
      async () => fake.ok('reactions.add').filter((c) => c.args.timestamp === ts).length === 3,
    );
    const invited = () =>
      fake.calls.some(
        (c) =>
          c.method === 'chat.postMessage' &&
          String(c.args.text).startsWith('What does the statement miss?'),
      );
    await s.event(reaction(s, 'U001', '+1', ts));
    await s.event(reaction(s, 'U002', '-1', ts));
    await s.settle();
    expect((await runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('polling');
    expect(invited()).toBe(false);
    await s.event(reaction(s, 'U003', '-1', ts)); // everyone has rated: mean 33% < 60%
    const invite = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('What does the statement miss?'),
    );
    expect(invite.args.thread_ts).toBe(questionTs);
    expect((await runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('critiquing');
  });
});
