import { afterEach, describe, expect, it } from 'vitest';
import type { ThreadMessage } from '../../fakes/slack.js';
import {
  BOT_TOKEN,
  CHANNEL,
  message,
  opinions,
  roundWithOpinions,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  THREE_OPINIONS,
  until,
} from './support.js';

const OPINIONS = THREE_OPINIONS;

describe('Slack: the round’s channel is archived, deleted or left by the bot mid-round', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it.each(['is_archived', 'channel_not_found', 'not_in_channel'])(
    'cancels the round when the statement cannot be posted (%s), instead of polling on nothing',
    async (code) => {
      s = await startStack();
      const { round } = await roundWithOpinions(s);
      // From now on every post into the channel is refused, as Slack refuses them.
      s.fake.fail('chat.postMessage', code, 1_000);
      s.fake.fail('chat.update', code, 1_000);
      await s.command('UMOD', 'close');
      const over = await until(async () => {
        const r = await s.runtime.store.rounds.require(SCOPE, round.id);
        return r.phase === 'cancelled' ? r : null;
      });
      expect(over.deadline).toBeNull();
      // No statement was posted, so none was put to a vote that nobody can see.
      expect(await s.runtime.store.messages.slot(SCOPE, round.id, 'statement:1')).toBeNull();
      // Logged once the round is cancelled, a moment after its phase moved.
      await until(async () =>
        s.log.lines.some((l) => l.message === 'the round’s thread is gone; round cancelled'),
      );
      // A moderator who asks is told the round is over, not that it is polling.
      await s.command('UMOD', `status ${round.id}`);
      const status = await s.fake.waitFor(
        (c) => c.method === 'respond' && String(c.args.text).startsWith(`Round \`${round.id}\``),
      );
      expect(String(status.args.text)).not.toContain('polling');
    },
    20_000,
  );
});

/** What the starter of `roundId` (UMOD) is told by direct message when its channel is gone. */
const goneNotice = (roundId: string) =>
  `Round \`${roundId}\` (“Should our team adopt a four-day week?”) in <#${CHANNEL}> is cancelled: the bot can no longer post in that channel (it was archived or deleted, or the bot was removed from it). Start a new one with \`/consensus start\` in a channel the bot is in.`;

/** The texts the bot sent UMOD in their direct message (conversations.open's D channel). */
const removed = (roundId: string) =>
  `The bot was removed from <#${CHANNEL}>, where round \`${roundId}\` (“Should our team adopt a four-day week?”) is still open. Invite it back (mention it there and choose “Invite”): it then reads what was said meanwhile. If it is not back when the round next has to post there, the round is cancelled.`;

const toModerator = (s: Stack) =>
  s.fake.calls
    .filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'DUMOD')
    .map((c) => String(c.args.text));

describe('Slack: the starter hears that a round was cancelled for a channel gone', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('by direct message, when the close finds the channel refusing every post', async () => {
    s = await startStack();
    const { round } = await roundWithOpinions(s);
    s.fake.refuseChannel(CHANNEL, 'is_archived');
    await s.command('UMOD', 'close');
    await until(async () =>
      (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'cancelled' ? true : null,
    );
    await until(async () => toModerator(s).length > 0);
    expect(toModerator(s)).toEqual([goneNotice(round.id)]);
  }, 20_000);

  it.each([
    ['channel_archive', { user: 'UADMIN' }],
    ['channel_deleted', {}],
    ['group_archive', {}],
    ['group_deleted', {}],
  ])(
    'at once, at %s: the round is cancelled with no close, once',
    async (type, extra) => {
      s = await startStack();
      const { round, questionTs } = await startRound(s);
      await s.event(message(s, 'U001', OPINIONS[0] as string, questionTs));
      await s.settle();
      const event = { type, channel: CHANNEL, event_ts: '1700000000.000100', ...extra };
      await s.event(event);
      await until(async () =>
        (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'cancelled' ? true : null,
      );
      await until(async () => toModerator(s).length > 0);
      // Delivered again (Slack retries): nothing more is cancelled, nobody is told twice.
      await s.event(event);
      await s.settle();
      expect(toModerator(s)).toEqual([goneNotice(round.id)]);
      // Nothing was posted in the channel that is gone.
      expect(
        s.fake.calls.filter(
          (c) => c.method === 'chat.postMessage' && c.args.channel === CHANNEL && c.args.thread_ts,
        ),
      ).toHaveLength(0);
      expect(
        s.log.lines.filter((l) => l.message === 'the round’s channel is gone; round cancelled'),
      ).toHaveLength(1);
    },
    20_000,
  );
});

describe('Slack: the bot is removed from a round’s channel, then invited back', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it.each(['channel_left', 'group_left'])(
    'keeps the round open, tells its starter once for %s and member_left_channel together, and rereads the thread once invited back',
    async (type) => {
      s = await startStack();
      const { round, questionTs } = await startRound(s);
      const thread: ThreadMessage[] = [];
      s.fake.threads.set(`${CHANNEL} ${questionTs}`, thread);
      const live = message(s, 'U001', OPINIONS[0] as string, questionTs);
      await s.event(live);
      thread.push({ ts: String(live.ts), user: 'U001', text: OPINIONS[0] as string });
      // A member leaving is nothing to the round.
      const left = (user: string) => ({
        type: 'member_left_channel',
        user,
        channel: CHANNEL,
        channel_type: 'C',
        team: 'T0001',
      });
      await s.event(left('U003'));
      await s.settle();
      expect(toModerator(s)).toEqual([]);
      // One removal, which Slack may report with both events.
      await s.event({ type, channel: CHANNEL, actor_id: 'UADMIN' });
      await s.event(left(s.fake.botUserId));
      await until(async () => toModerator(s).length > 0);
      await s.settle();
      expect(toModerator(s)).toEqual([removed(round.id)]);
      expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
      // Said in the thread while the bot was away: Slack delivers none of it.
      const meanwhile = message(s, 'U002', OPINIONS[1] as string, questionTs);
      thread.push({ ts: String(meanwhile.ts), user: 'U002', text: OPINIONS[1] as string });
      await s.event({
        type: 'member_joined_channel',
        user: s.fake.botUserId,
        channel: CHANNEL,
        channel_type: 'C',
        team: 'T0001',
      });
      const counted = await until(async () => {
        const list = await opinions(s, round.id);
        return list.length === 2 ? list : null;
      });
      expect(counted.map((o) => o.text).sort()).toEqual([OPINIONS[0], OPINIONS[1]].sort());
    },
    20_000,
  );

  it('an archived channel of another workspace cancels nothing here', async () => {
    s = await startStack();
    const { round } = await startRound(s);
    await s.event({ type: 'channel_archive', channel: CHANNEL, user: 'UADMIN' }, { team: 'T0999' });
    await s.settle();
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    expect(toModerator(s)).toEqual([]);
  }, 20_000);

  it('tells the starter at the next start when the bot was removed while it was down, and reads nothing it may not', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const thread: ThreadMessage[] = [];
    s.fake.threads.set(`${CHANNEL} ${questionTs}`, thread);
    // Removed while the bot was down: channel_left reached nobody, and is not sent again.
    await s.restart(() => {
      s.fake.channels.set(CHANNEL, { is_member: false });
      thread.push({ ts: s.ts(), user: 'U002', text: OPINIONS[1] as string });
    });
    await until(async () => toModerator(s).length > 0);
    await s.settle();
    expect(toModerator(s)).toEqual([removed(round.id)]);
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    expect(s.fake.calls.filter((c) => c.method === 'conversations.replies')).toEqual([]);
    // Invited back while the bot was down again: the next start reads the thread, and what
    // was said meanwhile counts; nobody is told anything.
    await s.restart(() => {
      s.fake.channels.delete(CHANNEL);
    });
    await until(async () => (await opinions(s, round.id)).length === 1 || null);
    await s.settle();
    expect(toModerator(s)).toHaveLength(1);
    // Removed again, live this time: that is news, told at once.
    const removedLive = { type: 'channel_left', channel: CHANNEL, actor_id: 'UADMIN' };
    await s.event(removedLive);
    await until(async () => toModerator(s).length === 2 || null);
    expect(toModerator(s)[1]).toBe(removed(round.id));
    // Invited back (its event this time), then removed again: told again.
    s.fake.channels.delete(CHANNEL);
    await s.event({
      type: 'member_joined_channel',
      user: s.fake.botUserId,
      channel: CHANNEL,
      channel_type: 'C',
      team: 'T0001',
    });
    await s.settle();
    await s.event(removedLive);
    await until(async () => toModerator(s).length === 3 || null);
  }, 20_000);
});

describe('Slack: a round’s channel archived while the bot was down', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('is cancelled at the next start and its starter told, as the live event would', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    s.fake.threads.set(`${CHANNEL} ${questionTs}`, []);
    await s.restart(() => {
      s.fake.channels.set(CHANNEL, { is_archived: true });
    });
    await until(async () => toModerator(s).length > 0);
    await s.settle();
    expect(toModerator(s)).toEqual([goneNotice(round.id)]);
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('cancelled');
    // Nothing to read in a channel whose rounds are over.
    expect(s.fake.calls.filter((c) => c.method === 'conversations.replies')).toEqual([]);
  }, 20_000);
});

describe('Slack: the progress message can no longer be edited', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it.each(['message_not_found', 'cant_update_message'])(
    'stops editing it after Slack refuses once (%s), and the round goes on',
    async (code) => {
      s = await startStack();
      const { round } = await roundWithOpinions(s);
      // Someone deleted the progress message (or Slack will not let it be changed).
      s.fake.fail('chat.update', code, 1_000);
      await s.command('UMOD', 'close');
      await s.fake.waitFor(
        (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed'),
      );
      await until(async () => {
        const r = await s.runtime.store.rounds.require(SCOPE, round.id);
        return r.phase === 'polling' ? r : null;
      });
      // Every progress edit has run (and, refused, would be waiting for its retry).
      await until(async () => {
        const counts = await s.runtime.queues
          .publishQueue(SCOPE)
          .getJobCounts('waiting', 'delayed', 'active', 'prioritized');
        return Object.values(counts).every((n) => n === 0);
      });
      // Asked once: every later edit, and every retry of one, would be refused alike.
      expect(s.fake.calls.filter((c) => c.method === 'chat.update')).toHaveLength(1);
      expect(s.log.lines.filter((l) => l.message === 'job failed')).toEqual([]);
    },
    20_000,
  );
});

describe('Slack: a moderator closes a round after the bot was removed from its channel', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('is told to invite the bot back, and the round stays open for when it is', async () => {
    s = await startStack();
    const { round } = await roundWithOpinions(s);
    // Removed from the channel: conversations.info says so, and Slack refuses its posts there.
    s.fake.channels.set(CHANNEL, { is_member: false });
    await s.command('UMOD', 'close');
    await s.settle();
    const answer = await s.fake.waitFor(
      (c) => c.method === 'respond' && String(c.args.text).includes('no longer in the channel'),
    );
    expect(answer.args.text).toBe(
      `I am no longer in the channel of round \`${round.id}\`, so I could not post there. ` +
        'Add me back (mention me and choose “Invite”), then try again.',
    );
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    // Invited back: the same command now closes it.
    s.fake.channels.delete(CHANNEL);
    await s.command('UMOD', 'close');
    await s.fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed'),
    );
  }, 20_000);
});

describe('Slack: the bot token is revoked mid-round', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('tells the operator once, at error level, what to do, and never logs the token', async () => {
    s = await startStack();
    await roundWithOpinions(s);
    // The app was uninstalled: every call with the old token is refused.
    s.fake.fail('chat.postMessage', 'token_revoked', 1_000);
    s.fake.fail('chat.update', 'token_revoked', 1_000);
    await s.command('UMOD', 'close');
    const said = (l: { message: string }) =>
      l.message.includes('no longer accepts SLACK_BOT_TOKEN');
    await until(async () => s.log.lines.some(said));
    // Every progress and statement job has failed for good by now.
    await until(async () => {
      const counts = await s.runtime.queues
        .publishQueue(SCOPE)
        .getJobCounts('waiting', 'delayed', 'active');
      return Object.values(counts).every((n) => n === 0);
    });
    const lines = s.log.lines.filter(said);
    expect(lines).toEqual([expect.objectContaining({ level: 'error' })]);
    expect(JSON.stringify(s.log.lines)).not.toContain(BOT_TOKEN);
  }, 20_000);
});

describe('Slack: the channel lets only admins post while the statement is due', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('tells the starter what did not appear, and close posts the statement once the bot may post again', async () => {
    s = await startStack();
    const { round, questionTs } = await roundWithOpinions(s);
    s.fake.refuseChannel(CHANNEL, 'restricted_action');
    await s.command('UMOD', 'close');
    // The channel refuses the notice too, so the starter hears it directly.
    await until(async () => toModerator(s).some((t) => t.includes('could not be posted')), 30_000);
    expect(toModerator(s)).toEqual([
      `The statement of round \`${round.id}\` (“Should our team adopt a four-day week?”) could not be posted after several tries: the bot may have lost a permission it needs in this channel or its thread. Once a workspace admin has restored it, a moderator can post it with \`/consensus close\`.`,
    ]);
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('polling');

    s.fake.allowChannel(CHANNEL);
    await s.command('UMOD', 'close');
    await s.fake.waitFor(
      (c) =>
        c.method === 'respond' &&
        String(c.args.text).includes('never reached its thread: posting it again now'),
    );
    const statement = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.args.thread_ts === questionTs &&
        String(c.args.text).startsWith('Proposed statement') &&
        c.status === 200 &&
        c.response?.ok === true,
    );
    expect(statement.args.channel).toBe(CHANNEL);
    await until(async () => s.fake.ok('reactions.add').length === 3);
  }, 40_000);
});
