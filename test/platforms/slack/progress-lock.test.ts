import { webApi } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProgressView } from '../../../src/deliberation/views.js';
import { silentLog } from '../../../src/domain/log.js';
import { SlackPort } from '../../../src/platforms/slack/port.js';
import { FakeSlack } from '../../fakes/slack.js';
import { until } from '../../support/harness.js';
import { roundWithOpinions, type Stack, startStack } from './support.js';

const PROGRESS = /^(Working on it|Done|Stopped)/;

/**
 * The progress message's slot lock lives 30 s from its last renewal, and a Slack call may
 * take longer than that (it waits out a 429's retry-after). Meanwhile the run's other
 * progress jobs, on this process's other workers (or another replica's), must wait for
 * it rather than take the slot and post a second message.
 */
describe('a progress post that waits out a long rate limit', () => {
  let s: Stack | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  it('leaves one progress message in the thread, showing the latest state', async () => {
    // Production's default concurrency is 8; two bot replicas behave the same way.
    const stack = await startStack({ env: { WORKER_CONCURRENCY: '4' } });
    s = stack;
    await roundWithOpinions(stack);
    // The next chat.postMessage, the run's first progress post, waits out 31 s: longer
    // than the lock would live unrenewed.
    stack.fake.rateLimit('chat.postMessage', 31, 1);
    await stack.command('UMOD', 'close');
    const progressPosts = () =>
      stack.fake.ok('chat.postMessage').filter((c) => PROGRESS.test(String(c.args.text)));
    /** What the first progress message shows last: its post, or its latest edit. */
    const shown = () => {
      const ts = progressPosts()[0]?.response?.ts;
      const edits = stack.fake.ok('chat.update').filter((c) => c.args.ts === ts);
      return String((edits.at(-1) ?? progressPosts()[0])?.args.text ?? '');
    };
    await until(async () => shown().startsWith('Done'), 55_000);
    // The jobs that waited for the slot have all run by now; none posts another.
    await stack.settle();
    await new Promise((r) => setTimeout(r, 500));
    const posts = progressPosts().map((c) => String(c.args.text));
    expect(posts, `progress messages posted: ${JSON.stringify(posts)}`).toHaveLength(1);
    expect(shown()).toBe('Done: the statement is below.');
    expect(stack.fake.ok('chat.delete')).toHaveLength(0);
  }, 70_000);
});

describe('Slack: a second progress message', () => {
  const view: ProgressView = {
    roundId: 'r1',
    channelId: 'C1',
    question: 'Should our team adopt a four-day week?',
    thread: null,
    version: 1,
    steps: [{ label: 'writing candidate statements', done: false }],
    state: 'working',
    summary: 'Working on it: 0 of 1 steps done.',
  };
  let fake: FakeSlack | undefined;
  afterEach(async () => {
    await fake?.stop();
    fake = undefined;
  });

  it('is deleted, and one already gone is no error; other refusals are', async () => {
    fake = await new FakeSlack().start();
    const client = new webApi.WebClient('xoxb-test', {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
    });
    const port = new SlackPort(client, silentLog);
    const ref = await port.upsertProgress(view, null);
    await port.removeProgress(ref);
    expect(fake.ok('chat.delete').map((c) => [c.args.channel, c.args.ts])).toEqual([
      ['C1', ref.messageId],
    ]);
    fake.fail('chat.delete', 'message_not_found');
    await expect(port.removeProgress(ref)).resolves.toBeUndefined();
    fake.fail('chat.delete', 'cant_delete_message');
    await expect(port.removeProgress(ref)).rejects.toThrow(/cant_delete_message/);
  });
});
