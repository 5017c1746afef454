import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  type Harness,
  OPINIONS,
  replier,
  roundInCritique,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';

/** Edits and deletions land on the message they belong to, whatever phase the round is in. */
describe('replies across phases', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  async function toCritique() {
    const { round, thread, at } = await roundInCritique(h);
    const remove = (messageId: string) =>
      h.runtime.service.removeReply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId,
      });
    return { round, reply: replier(h, thread.messageId), remove, at };
  }
  const list = (roundId: string, kind: 'opinion' | 'critique', version: number) =>
    h.runtime.store.contributions.list(SCOPE, roundId, kind, version);

  it('does not turn an opinion edited during the critique phase into a critique', async () => {
    const { round, reply } = await toCritique();
    const [first] = Object.entries(OPINIONS);
    const [member, original] = first ?? ['', ''];
    const edited = await reply(`o-${member}`, member, 'A typo fixed after the close.', 1, 99);
    expect(edited.status).toBe('ignored');
    expect(edited.notice).toMatch(/edit was not counted/);
    expect(await list(round.id, 'critique', 1)).toEqual([]);
    expect((await list(round.id, 'opinion', 0)).find((o) => o.participantId === member)?.text).toBe(
      original,
    );
  });

  it('removes a deleted reply wherever it is, and a late copy of it does not come back', async () => {
    const { round, reply, remove, at } = await toCritique();
    expect(await reply('c-ana', 'ana', 'It forgets support hours.', at)).toMatchObject({
      status: 'recorded',
      kind: 'critique',
    });
    expect(await remove('c-ana')).toMatchObject({ status: 'removed', kind: 'critique' });
    expect(await list(round.id, 'critique', 1)).toEqual([]);
    // The platform redelivers the original after the deletion (out of order): still gone,
    // and quietly so: no "Your edit was not counted" notice for a message that is gone.
    const ignored = { status: 'ignored', kind: null, roundId: round.id, notice: null };
    expect(await reply('c-ana', 'ana', 'It forgets support hours.', at)).toEqual(ignored);
    expect(await list(round.id, 'critique', 1)).toEqual([]);

    // An opinion deleted while critiquing leaves the opinions too.
    const [member = ''] = Object.keys(OPINIONS);
    expect(await remove(`o-${member}`)).toMatchObject({ status: 'removed', kind: 'opinion' });
    expect((await list(round.id, 'opinion', 0)).map((o) => o.participantId)).not.toContain(member);
    // A late edit of that deleted opinion neither revives it nor tells the member anything.
    expect(await reply(`o-${member}`, member, OPINIONS[member] ?? '', 1, 99)).toEqual(ignored);
    expect((await list(round.id, 'opinion', 0)).map((o) => o.participantId)).not.toContain(member);
  });

  it('keeps nothing about chatter in threads and on messages that belong to no round', async () => {
    const { service } = h.runtime;
    await startRound(h);
    const before = await h.redis.keys(`${h.prefix}:*:event:*`);
    const reply = await service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: 'some-other-thread',
      messageId: 'm-chat',
      userId: 'ana',
      text: 'Lunch at noon?',
      at: 1,
      eventId: 'Ev-chat',
    });
    const reaction = await service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: 'some-message',
      userId: 'ana',
      optionKey: 'agree',
      at: 1,
      removed: false,
      eventId: 'Ev-react',
    });
    expect([reply.status, reaction.status]).toEqual(['ignored', 'ignored']);
    expect(await h.redis.keys(`${h.prefix}:*:event:*`)).toEqual(before);
  });

  it('keeps the newest edit of a critique when an older edit arrives late', async () => {
    const { round, reply, at } = await toCritique();
    await reply('c-ben', 'ben', 'First draft.', at, at);
    await reply('c-ben', 'ben', 'Final wording.', at, at + 20);
    expect((await reply('c-ben', 'ben', 'Middle wording.', at, at + 10)).status).toBe('ignored');
    expect((await list(round.id, 'critique', 1)).map((c) => c.text)).toEqual(['Final wording.']);
  });
});
