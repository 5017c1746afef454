import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../src/domain/limits.js';
import type { RecordedCall } from '../../fakes/slack.js';
import { click, message, SCOPE, type Stack, startRound, startStack, until } from './support.js';

/** The long one is cut to the limit, so the exclusion check has a member it could name. */
const OPINIONS: Record<string, string> = {
  U001: 'Yes. A four-day week would reduce burnout and help us focus on the work that matters most.',
  U002: 'No. Our customers expect us five days a week, and support would suffer without Friday cover.',
  U003: `Only with a rota that keeps Friday support covered. ${'We would need a trial first. '.repeat(
    Math.ceil(LIMITS.opinionMaxChars / 29),
  )}`,
};
const STARTER = 'UMOD';
/** Critiques without having given an opinion. */
const CRITIC = 'U009';
/** A plain member who asks for the export, which is uploaded into the thread for all. */
const EXPORTER = 'U777';
/** Starts (and cancels) a second round. */
const SECOND_STARTER = 'UMOD2';
const EVERYONE = [...Object.keys(OPINIONS), STARTER, CRITIC, EXPORTER, SECOND_STARTER];

/** Answers only the member they address (response_url, chat.postEphemeral). */
const PRIVATE = new Set(['respond', 'chat.postEphemeral']);
/** Calls that read or open something and post nothing anyone else sees. */
const READS = new Set([
  'auth.test',
  'apps.connections.open',
  'users.info',
  'conversations.info',
  'conversations.replies',
  'reactions.get',
  'views.open',
]);

/** Everything a call puts in front of the channel: its arguments, and a file's bytes. */
function shown(call: RecordedCall): string {
  const { data, ...args } = call.args;
  const bytes = Buffer.isBuffer(data) ? data.toString('utf8') : '';
  return `${JSON.stringify(args)}\n${bytes}`;
}

describe('an anonymous round on Slack, from the question to the export', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('names no member, the starter included, in any public message or file', async () => {
    s = await startStack();
    const { fake, runtime } = s;
    const posted = (prefix: string) =>
      fake.waitFor(
        (c) =>
          c.method === 'chat.postMessage' &&
          c.status === 200 &&
          String(c.args.text).startsWith(prefix),
      );
    const { round, questionTs } = await startRound(
      s,
      'start --anonymous --remind-minutes 30 Should our team adopt a four-day week?',
      STARTER,
    );
    for (const [user, text] of Object.entries(OPINIONS)) {
      await s.event(message(s, user, text, questionTs));
    }
    await s.settle();
    const polling = (version: number) =>
      until(async () => {
        const r = await runtime.store.rounds.require(SCOPE, round.id);
        return r.phase === 'polling' && r.version === version;
      });
    await s.command(STARTER, 'close');
    await polling(1);

    // The reminder is due in 30 minutes: its delayed job runs now, through the worker.
    const reminder = await until(async () =>
      (await runtime.queues.deadline.getDelayed()).find(
        (j) => j.data.kind === 'reminder' && j.data.roundId === round.id,
      ),
    );
    await reminder.promote();
    await posted('Reminder');

    await s.command(STARTER, 'critique');
    await posted('What does the statement miss?');
    await s.event(message(s, CRITIC, 'It forgets the people who work part-time.', questionTs));
    await s.event(message(s, 'U002', 'Nothing about Friday customer support.', questionTs));
    await s.settle();
    await s.command(STARTER, 'close');
    await polling(2);
    const v2 = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.status === 200 &&
        JSON.stringify(c.args.blocks).includes('(version 2)'),
    );
    await until(async () => runtime.store.messages.slot(SCOPE, round.id, 'statement:2'));
    const at = {
      statementTs: String(v2.response?.ts),
      questionTs,
      blockId: 'consensus_rate',
    };
    await click(s, CRITIC, 'disagree', at);
    await click(s, 'U001', 'agree', at);
    await s.settle();

    await s.command(STARTER, 'finish');
    await posted('Results');
    await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
    await s.command(EXPORTER, 'export');
    await until(async () => fake.ok('files.completeUploadExternal').length >= 3 || null);

    // A round that ends by cancel says so in the channel.
    const second = await startRound(
      s,
      'start --anonymous Should we move the office?',
      SECOND_STARTER,
    );
    await s.command(SECOND_STARTER, 'cancel');
    await posted('This round was cancelled');
    expect(second.round.settings.anonymous).toBe(true);
    await s.settle();

    // What was checked: every kind of message an anonymous round posts, and its files.
    const texts = fake.ok('chat.postMessage').map((c) => String(c.args.text));
    for (const prefix of [
      'Question:',
      'Reminder',
      'Proposed statement',
      'What does the statement miss?',
      'Results',
      'This round was cancelled',
    ]) {
      expect(
        texts.some((t) => t.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
    expect(fake.ok('chat.update').length).toBeGreaterThan(0); // progress edits
    expect(fake.calls.filter((c) => c.method === 'upload').length).toBeGreaterThanOrEqual(6);

    const publicCalls = fake.calls.filter(
      (c) => !PRIVATE.has(c.method) && !READS.has(c.method) && c.status === 200,
    );
    for (const call of publicCalls) {
      const text = shown(call);
      for (const id of EVERYONE) expect(text, `${call.method} names ${id}`).not.toContain(id);
      expect(text, `${call.method} shows a pseudonym`).not.toContain('anon-');
    }
  });
});
