import { afterEach, describe, expect, it } from 'vitest';
import {
  afterEdit,
  CHANNEL,
  deleted,
  deletedWithoutThread,
  edited,
  message,
  opinions,
  reaction,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  TEAM,
  unfurled,
  until,
} from './support.js';

/** Thread replies, edits, deletions, reactions and redeliveries, over signed HTTP requests. */
describe('Slack events', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  async function toPolling(roundId: string, questionTs: string) {
    await s.event(
      message(s, 'U001', 'We should try it for three months and then decide.', questionTs),
    );
    await s.event(message(s, 'U002', 'I am against it; customers need us on Fridays.', questionTs));
    await s.settle();
    await s.command('UMOD', 'close');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, roundId)).phase === 'polling',
    );
    const post = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    await until(async () => s.fake.ok('reactions.add').length === 3);
    const poll = await s.runtime.store.polls.poll(SCOPE, roundId, 1);
    if (!poll) throw new Error('no poll');
    return { statementTs: String(post.response?.ts), poll };
  }

  it('counts replies in the round thread only: top-level chatter and other threads are ignored', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'Top-level chatter about lunch.', null));
    await s.event(message(s, 'U002', 'A reply in some other thread.', '1799999999.000100'));
    await s.event(message(s, 'U003', 'My real opinion: yes, with a trial first.', questionTs));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => [o.participantId, o.text])).toEqual([
      ['U003', 'My real opinion: yes, with a trial first.'],
    ]);
    expect(s.fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
  });

  it('drops a message event whose fields are not what Slack sends, and goes on with the next', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    // A ts that is no Slack timestamp, a text that is no string: not a reply to store.
    await s.event(message(s, 'U001', 'A reply with a broken ts.', questionTs, { ts: 'soon' }));
    await s.event({ ...message(s, 'U002', 'x', questionTs), text: { rich: true } });
    await s.event({ ...message(s, 'U004', 'A reply in no channel.', questionTs), channel: '' });
    await s.event(message(s, 'U003', 'A reply as Slack sends it.', questionTs));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U003']);
    // Dropped at the door: not taken for a failure to handle (which rereads every round).
    expect(s.log.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  it('takes a reply of mentions alone for no opinion, and keeps mentions in one as @id', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', '<@U002> <@U003|cy> <!here>', questionTs));
    await s.event(message(s, 'U002', '<!subteam^S123|@support> ?', questionTs));
    await s.event(message(s, 'U003', 'Yes, if <@U002> runs the rota.', questionTs));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => [o.participantId, o.text])).toEqual([
      ['U003', 'Yes, if @U002 runs the rota.'],
    ]);
  });

  it('counts a reply of zero-width characters or emoji alone for nothing, and tells the member privately', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', '\u200b\u200b\u2060', questionTs));
    await s.event(message(s, 'U002', ':+1::skin-tone-2: :tada: 🎉', questionTs));
    await s.event(message(s, 'U003', 'Yes :tada:, with a trial first.', questionTs));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => [o.participantId, o.text])).toEqual([
      ['U003', 'Yes :tada:, with a trial first.'],
    ]);
    const text = 'Your reply has no words in it, so it does not count as an opinion.';
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args)).toEqual([
      { channel: CHANNEL, user: 'U001', thread_ts: questionTs, text },
      { channel: CHANNEL, user: 'U002', thread_ts: questionTs, text },
    ]);
  });

  it('takes a reply of 45,000 characters through Bolt, keeps what counts and tells the member its length', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const delivered = await s.event(message(s, 'U001', `${'word '.repeat(9_000)}end`, questionTs));
    await s.settle();
    expect(delivered.status).toBe(200);
    const [opinion, ...others] = await opinions(s, round.id);
    expect(others).toEqual([]);
    expect(opinion).toMatchObject({ participantId: 'U001', truncated: true });
    expect(opinion?.text.length).toBe(4_000);
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args.text)).toEqual([
      'Your opinion is 45003 characters; only the first 4000 are used.',
    ]);
  });

  it('replaces an opinion when its message is edited, and removes it when deleted', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const first = message(s, 'U001', 'First thought: no.', questionTs);
    const second = message(s, 'U001', 'Second thought: customers matter most.', questionTs);
    await s.event(first);
    await s.event(second);
    await s.event(edited(s, first, 'First thought, edited: yes, with a trial.'));
    await s.settle();
    expect((await opinions(s, round.id))[0]?.text).toBe(
      'First thought, edited: yes, with a trial.\nSecond thought: customers matter most.',
    );
    await s.event(deleted(s, second));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.text)).toEqual([
      'First thought, edited: yes, with a trial.',
    ]);
    await s.event(deleted(s, first));
    await s.settle();
    expect(await opinions(s, round.id)).toEqual([]);
  });

  it('keeps the newest edit when Slack delivers two edits of one reply out of order', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const reply = message(s, 'U001', 'First draft.', questionTs);
    await s.event(reply);
    const older = edited(s, reply, 'Second draft.');
    const newer = edited(s, reply, 'Final wording.');
    await s.event(newer);
    await s.settle();
    await s.event(older);
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.text)).toEqual(['Final wording.']);
  });

  it('takes an edit made in the second its reply was posted, which Slack dates before the reply', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const posted = message(s, 'U001', 'Frist draft.', questionTs);
    // Posted at N.734200; Slack gives the edit's time, a moment later, as N.000000.
    const second = String(posted.ts).split('.')[0];
    const reply = { ...posted, ts: `${second}.734200`, event_ts: `${second}.734200` };
    await s.event(reply);
    await s.event(edited(s, reply, 'First draft.', `${second}.000000`));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.text)).toEqual(['First draft.']);
    // Slack promises no order: the reply's own event, retried after the edit, changes nothing.
    await s.event(reply, { eventId: 'EvRetriedReply' });
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.text)).toEqual(['First draft.']);
  });

  it('does not take a link unfurling for an edit, before or after the phase closed', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const linked = message(s, 'U003', 'See https://example.com/ for a trial plan.', questionTs);
    const reworded = message(s, 'U004', 'Not yet convinced.', questionTs);
    await s.event(linked);
    await s.event(reworded);
    const edit = edited(s, reworded, 'Convinced by https://example.com/ after all.');
    await s.event(edit);
    // Slack unfurls both links: the message is changed, its text is not.
    await s.event(unfurled(s, linked));
    await s.event(unfurled(s, afterEdit(edit)));
    // A reply whose own event never arrived still comes in with its unfurl.
    await s.event(unfurled(s, message(s, 'U005', 'Lost, then https://example.com/', questionTs)));
    await s.settle();
    const before = (await opinions(s, round.id)).map((o) => [o.participantId, o.text]);
    expect(before).toEqual([
      ['U003', 'See https://example.com/ for a trial plan.'],
      ['U004', 'Convinced by https://example.com/ after all.'],
      ['U005', 'Lost, then https://example.com/'],
    ]);
    await toPolling(round.id, questionTs);
    // Unfurls can come after the round moved on: nobody edited anything, nobody is told.
    await s.event(unfurled(s, linked));
    await s.event(unfurled(s, afterEdit(edit)));
    await s.settle();
    expect(s.fake.ok('chat.postEphemeral')).toEqual([]);
    // A real edit then is still answered, and not counted.
    await s.event(edited(s, linked, 'Changed my mind after close.'));
    await s.settle();
    expect(s.fake.ok('chat.postEphemeral').map((c) => [c.args.user, c.args.text])).toEqual([
      [
        'U003',
        'Thanks for your reply. Your edit was not counted: opinions closed when the round moved on.',
      ],
    ]);
    expect((await opinions(s, round.id)).slice(0, 3).map((o) => [o.participantId, o.text])).toEqual(
      before,
    );
  });

  it('removes a reply deleted without previous_message, found by its channel and ts', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const reply = message(s, 'U001', 'An opinion that is deleted.', questionTs);
    await s.event(reply);
    await s.event(message(s, 'U002', 'An opinion that stays.', questionTs));
    await s.settle();
    // Slack omits previous_message for some deletions (very old messages, some clients).
    const deletion = (ts: unknown) => deletedWithoutThread(s, ts);
    // Top-level chatter, deleted the same way, changes nothing.
    const chatter = message(s, 'U003', 'Lunch?', null);
    await s.event(chatter);
    await s.event(deletion(chatter.ts));
    const ack = await s.event(deletion(reply.ts));
    expect(ack.status).toBe(200);
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U002']);
    // A late copy of the deleted message does not bring it back.
    await s.event(reply);
    await s.event(message(s, 'U004', 'And a later one.', questionTs));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U002', 'U004']);
    expect(s.log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('removes a reply deleted without previous_message after its round has finished', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const reply = message(s, 'U003', 'An opinion deleted once the round is over.', questionTs);
    await s.event(reply);
    await toPolling(round.id, questionTs);
    await s.command('UMOD', 'finish');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'closed',
    );
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual([
      'U003',
      'U001',
      'U002',
    ]);
    // The same channel and ts, delivered for another workspace's installation: not ours.
    await s.event(deletedWithoutThread(s, reply.ts), { team: 'T0002' });
    await s.settle();
    expect(await opinions(s, round.id)).toHaveLength(3);
    const ack = await s.event(deletedWithoutThread(s, reply.ts));
    expect(ack.status).toBe(200);
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U001', 'U002']);
    expect(s.log.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('ignores bot and app messages in the thread, the bot’s own included', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(
      message(s, 'UAPP', 'An integration posting in the thread.', questionTs, {
        subtype: 'bot_message',
        bot_id: 'BAPP',
      }),
    );
    await s.event(
      message(s, 'UWF', 'A workflow step posting as an app.', questionTs, { bot_id: 'BWF' }),
    );
    await s.event(
      message(s, s.fake.botUserId, 'The bot talking in its own thread.', questionTs, {
        bot_id: s.fake.botId,
      }),
    );
    // Slackbot (a reminder, an auto-response) and an app's message that has no bot_id.
    await s.event(message(s, 'USLACKBOT', 'Reminder: reply to the question.', questionTs));
    await s.event(
      message(s, 'UWF2', 'A workflow posting as its builder.', questionTs, { app_id: 'A0WF' }),
    );
    await s.settle();
    expect(await opinions(s, round.id)).toEqual([]);
  });

  it('counts a reply that is also sent to the channel (thread_broadcast) once', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const text = 'Broadcast: I support it if Friday support is covered.';
    const broadcast = message(s, 'U001', text, questionTs, {
      subtype: 'thread_broadcast',
      root: {
        type: 'message',
        user: s.fake.botUserId,
        bot_id: s.fake.botId,
        ts: questionTs,
        thread_ts: questionTs,
      },
    });
    await s.event(broadcast);
    // Slack also reports the root's new reply count as an edit of the root.
    await s.event({
      type: 'message',
      subtype: 'message_changed',
      hidden: true,
      channel: CHANNEL,
      ts: s.ts(),
      message: {
        type: 'message',
        user: s.fake.botUserId,
        bot_id: s.fake.botId,
        text: 'Question: Should our team adopt a four-day week?',
        ts: questionTs,
        thread_ts: questionTs,
        reply_count: 1,
      },
    });
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => [o.participantId, o.text])).toEqual([
      ['U001', text],
    ]);
  });

  it('removes an opinion deleted after the round moved on to its poll, and says nothing', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const third = message(s, 'U003', 'A trial in one team first.', questionTs);
    await s.event(third);
    await toPolling(round.id, questionTs);
    // The deletion names its thread (previous_message): the round is found by it, and a
    // member's words taken back leave the record whatever the phase.
    await s.event(deleted(s, third));
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U001', 'U002']);
    expect(s.fake.ok('chat.postEphemeral')).toEqual([]);
  });

  it('answers an opinion that arrives after close with an ephemeral note and does not count it', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await toPolling(round.id, questionTs);
    const late = message(s, 'U003', 'Sorry I am late: I would like a trial.', questionTs);
    await s.event(late);
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U001', 'U002']);
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args)).toEqual([
      {
        channel: CHANNEL,
        user: 'U003',
        thread_ts: questionTs,
        text: 'Thanks for your reply. This round is polling members on the statement; replies are not counted now.',
      },
    ]);
  });

  it('changes nothing when Slack redelivers an event (same event_id, retry header)', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const original = message(s, 'U001', 'Version one.', questionTs);
    await s.event(original, { eventId: 'EvReply1' });
    await s.event(edited(s, original, 'Version two.'), { eventId: 'EvEdit1' });
    // The first delivery "timed out" on Slack's side and comes again, after the edit.
    await s.event(original, { eventId: 'EvReply1', retryNum: 1 });
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.text)).toEqual(['Version two.']);

    await s.event(message(s, 'U002', 'I disagree with the whole idea.', questionTs));
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    const added = reaction(s, 'U001', '+1', statementTs);
    await s.event(added, { eventId: 'EvAdd1' });
    await s.event(reaction(s, 'U001', '+1', statementTs, true), { eventId: 'EvRemove1' });
    await s.event(added, { eventId: 'EvAdd1', retryNum: 2 });
    // A late reply, delivered twice, is answered once.
    const late = message(s, 'U009', 'Late reply.', questionTs);
    await s.event(late, { eventId: 'EvLate1' });
    await s.event(late, { eventId: 'EvLate1', retryNum: 1 });
    await s.settle();
    expect(await s.runtime.store.polls.ratings(SCOPE, poll)).toEqual([]);
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args.user)).toEqual(['U009']);
  });

  it('rates by reaction: aliases and skin tones count, other emoji and the bot’s own do not', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    await s.event(reaction(s, s.fake.botUserId, '+1', statementTs));
    await s.event(reaction(s, 'U001', 'tada', statementTs));
    await s.event(reaction(s, 'U002', 'heart', statementTs));
    await s.settle();
    expect(await s.runtime.store.polls.ratings(SCOPE, poll)).toEqual([]);
    await s.event(reaction(s, 'U001', 'thumbsup::skin-tone-4', statementTs));
    await s.event(reaction(s, 'U002', 'thumbsdown', statementTs));
    await s.settle();
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([
      ['U001', 'agree'],
      ['U002', 'disagree'],
    ]);
  });

  it('does not count another app’s bot reacting, asks Slack once per user and only for reactions on a statement, and counts a member when Slack cannot say', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    // Slack's reaction events carry no bot flag: only users.info tells a reacji app apart.
    s.fake.users.set('UREACJI', { is_bot: true });
    const before = s.fake.calls.length;
    // A 👍 on a message that is no statement (here the question) costs no lookup.
    await s.event(reaction(s, 'U003', '+1', questionTs));
    await s.event(reaction(s, 'UREACJI', '+1', statementTs));
    await s.event(reaction(s, 'UREACJI', '-1', statementTs));
    await s.event(reaction(s, 'U001', '+1', statementTs));
    await s.event(reaction(s, 'U001', '+1', statementTs, true));
    await s.event(reaction(s, 'U001', '-1', statementTs));
    // Events are handled after their ack: without this, under load, the failure below
    // could meet U001's lookup instead of U002's.
    await s.settle();
    s.fake.fail('users.info', 'internal_error');
    await s.event(reaction(s, 'U002', '+1', statementTs));
    await s.settle();
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([
      ['U001', 'disagree'],
      ['U002', 'agree'],
    ]);
    const lookups = s.fake.calls.slice(before).filter((c) => c.method === 'users.info');
    expect(lookups.map((c) => c.args.user)).toEqual(['UREACJI', 'U001', 'U002']);
  });

  it('counts a reaction given while the bot is still adding the poll’s reactions', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'Yes, as a three-month trial.', questionTs));
    await s.event(message(s, 'U002', 'No, customers need us on Fridays.', questionTs));
    await s.settle();
    // Slack is slow to take the bot's first reaction: the poll is up but not yet decorated.
    const release = s.fake.hold((c) => c.method === 'reactions.add');
    await s.command('UMOD', 'close');
    const post = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    const statementTs = String(post.response?.ts);
    await s.fake.waitFor((c) => c.method === 'reactions.add');
    expect(s.fake.ok('reactions.add').filter((c) => c.response)).toEqual([]);
    await s.event(reaction(s, 'U002', '-1', statementTs));
    await s.settle();
    const poll = await s.runtime.store.polls.poll(SCOPE, round.id, 1);
    if (!poll) throw new Error('no poll');
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([['U002', 'disagree']]);
    expect(s.fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
    release();
    await until(async () => s.fake.ok('reactions.add').filter((c) => c.response).length === 3);
  });

  it('keeps agree when a member who reacted with two skin tones of 👍 removes one of them', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    const ratings = async () =>
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]);
    // Slack shows these as two reactions, each with its own count.
    await s.event(reaction(s, 'U001', '+1', statementTs));
    await s.event(reaction(s, 'U001', '+1::skin-tone-2', statementTs));
    await s.event(reaction(s, 'U001', '+1', statementTs, true));
    await s.settle();
    expect(await ratings()).toEqual([['U001', 'agree']]);
    await s.event(reaction(s, 'U001', '+1::skin-tone-2', statementTs, true));
    await s.settle();
    expect(await ratings()).toEqual([]);
  });

  it('rates a member by the earlier reaction still on the statement when they take back their latest, and by none once both are gone', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    const ratings = async () =>
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]);
    await s.event(reaction(s, 'U001', '+1', statementTs));
    await s.event(reaction(s, 'U001', '-1', statementTs));
    await s.settle();
    expect(await ratings()).toEqual([['U001', 'disagree']]);
    await s.event(reaction(s, 'U001', '-1', statementTs, true));
    await s.settle();
    expect(await ratings()).toEqual([['U001', 'agree']]);
    await s.event(reaction(s, 'U001', '+1', statementTs, true));
    await s.settle();
    expect(await ratings()).toEqual([]);
  });

  it('tells a member politely that a finished poll no longer counts their reaction', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    await s.command('UMOD', 'finish');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'closed',
    );
    await s.event(reaction(s, 'U001', '+1', statementTs));
    await s.event(reaction(s, 'U001', '+1', statementTs, true));
    await s.settle();
    expect(await s.runtime.store.polls.ratings(SCOPE, poll)).toEqual([]);
    // In the thread, where the statement is, not in the channel.
    expect(s.fake.ok('chat.postEphemeral').map((c) => c.args)).toEqual([
      {
        channel: CHANNEL,
        user: 'U001',
        thread_ts: questionTs,
        text: 'Thanks for rating. This poll is closed; your reaction was not counted.',
      },
    ]);
  });

  it('keeps installations apart: an event delivered for another installation is not counted', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U777', 'A reply from this workspace.', questionTs));
    // Same channel and thread ts, but delivered for another workspace's installation.
    await s.event(message(s, 'U888', 'A reply from another workspace.', questionTs), {
      team: 'T0002',
    });
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U777']);
    expect(
      await s.runtime.store.contributions.list(
        { platform: 'slack', workspaceId: 'T0002' },
        round.id,
        'opinion',
        0,
      ),
    ).toEqual([]);
  });

  it('counts replies and reactions in a shared channel owned by another organisation', async () => {
    s = await startStack();
    s.fake.share(CHANNEL, 'T0EXT');
    const { round, questionTs } = await startRound(s);
    // Slack Connect: the envelope names the channel's owner, authorizations name us.
    const shared = { team: 'T0EXT', installation: TEAM };
    await s.event(message(s, 'U001', 'From our side: a trial first.', questionTs), shared);
    await s.event(message(s, 'WEXT1', 'From the partner: fine by us.', questionTs), shared);
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U001', 'WEXT1']);
    // The partner's slash command names their team too; the round is still ours.
    await s.command('WEXT1', 'status', CHANNEL, 'T0EXT');
    await s.settle();
    const told = s.fake.calls.filter((c) => c.method === 'respond').at(-1);
    expect(String(told?.args.text)).toContain(`Round \`${round.id}\``);
    const { statementTs, poll } = await toPolling(round.id, questionTs);
    await s.event(reaction(s, 'WEXT1', '+1', statementTs), shared);
    await s.settle();
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([['WEXT1', 'agree']]);
    expect(
      await s.runtime.store.contributions.list(
        { platform: 'slack', workspaceId: 'T0EXT' },
        round.id,
        'opinion',
        0,
      ),
    ).toEqual([]);
  });
});
