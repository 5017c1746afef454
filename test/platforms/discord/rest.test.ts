import { REST } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../../src/domain/log.js';
import { DiscordPlatform } from '../../../src/platforms/discord/discord-platform.js';
import { FakeDiscord } from '../../fakes/discord.js';
import { emptyResults } from '../../support/views.js';
import { APPLICATION_ID, idOf, TOKEN } from './support.js';

const header = {
  roundId: 'r1',
  question: 'Should our team adopt a four-day week?',
  thread: null,
};

describe('Discord REST', () => {
  let fake: FakeDiscord;
  let platform: DiscordPlatform;
  beforeEach(async () => {
    fake = await FakeDiscord.start({ token: TOKEN, applicationId: APPLICATION_ID });
    platform = new DiscordPlatform(new REST({ api: fake.apiUrl }).setToken(TOKEN), silentLog);
  });
  afterEach(async () => {
    await fake.close();
  });

  it('waits out a 429 for its retry_after and sends the message exactly once', async () => {
    const messages = new RegExp(`^/channels/${fake.channelId}/messages$`);
    fake.rateLimitNext('POST', messages, 0.4);
    const ref = await platform.postNotice({ ...header, channelId: fake.channelId, text: 'Hello' });
    const calls = fake.requested('POST', messages);
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect((calls[1]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(400);
    expect(ref?.messageId).toBe(idOf(calls[1]?.response));
    expect([...fake.messages.values()].filter((m) => m.content === 'Hello')).toHaveLength(1);
  });

  it('pings only the members a reminder names; other notices ping nobody', async () => {
    const messages = new RegExp(`^/channels/${fake.channelId}/messages$`);
    await platform.postNotice({ ...header, channelId: fake.channelId, text: 'Cancelled by <@1>.' });
    await platform.postNotice({
      ...header,
      channelId: fake.channelId,
      text: 'Reminder: <@2>, <@3>, rate it.',
      mentions: ['2', '3'],
    });
    expect(
      fake
        .requested('POST', messages)
        .map((c) => (c.body as { allowed_mentions?: unknown }).allowed_mentions),
    ).toEqual([{ parse: [] }, { parse: [], users: ['2', '3'] }]);
  });

  it('retries a rate-limited poll reaction and adds every reaction once, in order', async () => {
    const question = await platform.postQuestion(
      {
        ...header,
        channelId: fake.channelId,
        createdBy: '1',
        deadline: null,
        candidates: 8,
        welfare: 'egalitarian',
        scale: 'approval3',
      },
      async () => {},
    );
    fake.rateLimitNext('PUT', /\/reactions\//, 0.3, true);
    // The publisher links the message before the first reaction is added.
    let reactionsWhenLinked = -1;
    const ref = await platform.postStatement(
      {
        ...header,
        channelId: fake.channelId,
        thread: question,
        anonymous: false,
        buttons: false,
        version: 1,
        statement: 'A three-month trial of a four-day week, with Friday support on a rota.',
        options: [
          { key: 'agree', label: 'agree', approval: 1 },
          { key: 'unsure', label: 'unsure', approval: 0.5 },
          { key: 'disagree', label: 'disagree', approval: 0 },
        ],
        method: 'Chosen by egalitarian welfare.',
        predicted: [],
        considered: [],
        model: 'lexical',
        notes: [],
      },
      async () => {
        reactionsWhenLinked = fake.requested('PUT', /\/reactions\//).length;
      },
    );
    expect(reactionsWhenLinked).toBe(0);
    expect(ref.channelId).toBe(question.threadId);
    const puts = fake.requested('PUT', /\/reactions\//);
    expect(puts.map((p) => p.status)).toEqual([429, 204, 204, 204]);
    expect(puts.slice(1).map((p) => decodeURIComponent(p.path.split('/')[6] ?? ''))).toEqual([
      '👍',
      '🤷',
      '👎',
    ]);
    expect((puts[1]?.at ?? 0) - (puts[0]?.at ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('posts a statement, critique invitation or results once when a retry sends it again', async () => {
    const messages = new RegExp(`^/channels/${fake.channelId}/messages$`);
    const round = { ...header, channelId: fake.channelId };
    const statement = {
      ...round,
      anonymous: false,
      buttons: true,
      version: 1,
      statement: 'A three-month trial of a four-day week.',
      options: [],
      method: 'Chosen by egalitarian welfare.',
      predicted: [],
      considered: [],
      model: 'lexical',
      notes: [],
    };
    const results = emptyResults(round);
    const invite = { ...round, version: 1, statement: statement.statement, deadline: null };
    // Each twice, as a job retried after Discord made the message but before it was linked.
    const first = await platform.postStatement(statement, async () => {});
    expect(await platform.postStatement(statement, async () => {})).toEqual(first);
    const invited = await platform.postCritiqueInvite(invite);
    expect(await platform.postCritiqueInvite(invite)).toEqual(invited);
    const posted = await platform.postResults(results);
    expect(await platform.postResults(results)).toEqual(posted);
    expect(new Set([first.messageId, invited.messageId, posted.messageId]).size).toBe(3);
    expect(fake.messages.size).toBe(3);
    // Another statement for the same version (a failed run closed again) is a new message;
    // a notice, which may rightly say the same thing twice, is never held back.
    const other = await platform.postStatement(
      { ...statement, statement: 'Keep five days.' },
      async () => {},
    );
    expect(other.messageId).not.toBe(first.messageId);
    await platform.postNotice({ ...round, text: 'Reminder.' });
    await platform.postNotice({ ...round, text: 'Reminder.' });
    expect(fake.messages.size).toBe(6);
    const nonces = fake
      .requested('POST', messages)
      .map((c) => (c.body as { nonce?: string }).nonce);
    expect(nonces.slice(0, 6).every((n) => typeof n === 'string' && n.length <= 25)).toBe(true);
  });

  it('takes a second progress message down, and one already gone is no error', async () => {
    const view = {
      ...header,
      channelId: fake.channelId,
      version: 1,
      steps: [{ label: 'writing candidate statements', done: false }],
      state: 'working' as const,
      summary: 'Working on it: 0 of 1 steps done.',
    };
    const ref = await platform.upsertProgress(view, null);
    expect(fake.messages.has(ref.messageId)).toBe(true);
    await platform.removeProgress(ref);
    expect(fake.messages.has(ref.messageId)).toBe(false);
    await expect(platform.removeProgress(ref)).resolves.toBeUndefined();
  });
});
