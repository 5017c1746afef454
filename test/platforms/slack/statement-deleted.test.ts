import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNEL,
  closeToPoll,
  deleted,
  deletedWithoutThread,
  reaction,
  roundWithOpinions,
  SCOPE,
  type Stack,
  startStack,
  until,
} from './support.js';

/** A round polling on its statement, with one member's 👍 on it. */
async function pollWithOneRating(s: Stack) {
  const { round, questionTs } = await roundWithOpinions(s);
  const { statementTs } = await closeToPoll(s);
  await s.event(reaction(s, 'U001', '+1', statementTs));
  await s.settle();
  const statement = {
    type: 'message',
    channel: CHANNEL,
    user: s.fake.botUserId,
    bot_id: s.fake.botId,
    text: 'Proposed statement',
    ts: statementTs,
    thread_ts: questionTs,
  };
  return { round, questionTs, statementTs, statement };
}

/** The bot's notices in the round's thread that its statement was deleted. */
const deletionNotices = (s: Stack, questionTs: string) =>
  s.fake.calls.filter(
    (c) =>
      c.method === 'chat.postMessage' &&
      c.args.thread_ts === questionTs &&
      String(c.args.text).includes('was deleted, so it can no longer be rated'),
  );

/**
 * A workspace admin deletes the bot's statement while its poll is open. Nobody can rate
 * it any more; the round used to sit polling on nothing, with no word to anyone.
 */
describe('Slack: the statement of an open poll is deleted', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('tells the thread once what a moderator can do, and finish counts the ratings given', async () => {
    s = await startStack();
    const { round, questionTs, statement } = await pollWithOneRating(s);
    await s.event(deleted(s, statement));
    await until(async () => deletionNotices(s, questionTs).length > 0);
    // Reported again (a retry, or a second client): told once.
    await s.event(deleted(s, statement));
    await s.settle();
    const [notice] = deletionNotices(s, questionTs);
    expect(deletionNotices(s, questionTs)).toHaveLength(1);
    expect(String(notice?.args.text)).toContain(
      `The statement of round \`${round.id}\` was deleted, so it can no longer be rated. The ratings given so far are kept: \`/consensus finish\` posts the results on them`,
    );
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('polling');
    await s.command('UMOD', 'finish');
    const results = await s.fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    expect(JSON.stringify(results.args)).toContain('rated by 1');
  }, 20_000);

  it('is recognised when Slack leaves out previous_message', async () => {
    s = await startStack();
    const { questionTs, statementTs } = await pollWithOneRating(s);
    await s.event(deletedWithoutThread(s, statementTs));
    await until(async () => deletionNotices(s, questionTs).length > 0);
    expect(deletionNotices(s, questionTs)).toHaveLength(1);
  }, 20_000);

  it('says nothing for a statement whose poll is over', async () => {
    s = await startStack();
    const { round, questionTs, statement } = await pollWithOneRating(s);
    await s.command('UMOD', 'finish');
    await until(async () =>
      (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'closed' ? true : null,
    );
    await s.event(deleted(s, statement));
    await s.settle();
    expect(deletionNotices(s, questionTs)).toEqual([]);
  }, 20_000);
});
