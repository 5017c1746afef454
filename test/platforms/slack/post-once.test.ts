import { webApi } from '@slack/bolt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CritiqueInviteView } from '../../../src/deliberation/views.js';
import { silentLog } from '../../../src/domain/log.js';
import { SlackPort } from '../../../src/platforms/slack/port.js';
import { FakeSlack } from '../../fakes/slack.js';
import { emptyResults } from '../../support/views.js';

const CHANNEL = 'C1';
/** When the earlier try began, on the fake's clock (its message ts count up from here). */
const SINCE = 1_700_000_000_000;
const THREAD = '1700000000.000100';

/** A round's results and critique invitation, in the thread of its question. */
const header = {
  roundId: 'r1',
  channelId: CHANNEL,
  question: 'Should our team adopt a four-day week?',
  thread: { channelId: CHANNEL, messageId: THREAD, threadId: THREAD },
};
const results = emptyResults(header);
const invite: CritiqueInviteView = {
  ...header,
  version: 1,
  statement: 'A trial of three months.',
  deadline: null,
};

describe('Slack: a message that must appear once, posted again by a retry', () => {
  let fake: FakeSlack;
  let port: SlackPort;
  const posts = () => fake.calls.filter((c) => c.method === 'chat.postMessage');
  beforeEach(async () => {
    fake = await new FakeSlack().start();
    fake.threads.set(`${CHANNEL} ${THREAD}`, []);
    const client = new webApi.WebClient('xoxb-test', {
      slackApiUrl: fake.apiUrl,
      retryConfig: { retries: 0 },
    });
    port = new SlackPort(client, silentLog);
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('finds the message an earlier try posted unrecorded, and posts nothing more', async () => {
    const since = SINCE;
    const first = await port.postResults(results, null);
    const firstInvite = await port.postCritiqueInvite(invite, null);
    expect(posts()).toHaveLength(2);
    // The job comes back: the earlier try began at `since` and may have posted.
    expect(await port.postResults(results, since)).toEqual(first);
    expect(await port.postCritiqueInvite(invite, since)).toEqual(firstInvite);
    expect(posts()).toHaveLength(2);
  });

  it('posts when the earlier try left nothing, or only a member wrote the same words', async () => {
    const since = SINCE;
    const [thread] = [fake.threads.get(`${CHANNEL} ${THREAD}`)];
    // A member pasting the bot's words is not the bot's post.
    thread?.push({
      ts: '1700000001.000200',
      user: 'U1',
      text: 'Results: no statement was put to the vote.',
    });
    await port.postResults(results, since);
    expect(posts()).toHaveLength(1);
    // Another message of the bot's in the thread is not this one either.
    await port.postCritiqueInvite(invite, since);
    expect(posts()).toHaveLength(2);
  });

  it('posts rather than hold the message back when the thread cannot be read', async () => {
    fake.threads.delete(`${CHANNEL} ${THREAD}`);
    await port.postResults(results, SINCE);
    expect(posts()).toHaveLength(1);
  });
});
