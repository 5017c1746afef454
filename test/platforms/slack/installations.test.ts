import { afterEach, describe, expect, it } from 'vitest';
import type { Scope } from '../../../src/domain/scope.js';
import { NOT_CHECKED, NOT_SERVED } from '../../../src/platforms/slack/app.js';
import {
  CHANNEL,
  click,
  clickTs,
  type Mode,
  message,
  opinions,
  reaction,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  until,
} from './support.js';

/**
 * Issue 9: one app, installed in two workspaces, reaches this process (one signing secret)
 * with both workspaces' commands and clicks. This bot token is T0001's. T0002 uses the
 * same channel and user ids, on purpose: nothing of T0001's may reach it.
 */
const OTHER = 'T0002';
const OTHER_SCOPE: Scope = { platform: 'slack', workspaceId: OTHER };
/** A Slack Connect partner organisation's team. */
const PARTNER = 'T0EXT';

const refused = { response_type: 'ephemeral', text: NOT_SERVED };
const responses = (s: Stack) =>
  s.fake.calls.filter((c) => c.method === 'respond').map((c) => c.args);
const lookUps = (s: Stack, channel: string) =>
  s.fake.calls.filter((c) => c.method === 'conversations.info' && c.args.channel === channel)
    .length;

/** A hidden round (rated with buttons) with two opinions, its statement put to the vote. */
async function toPoll(s: Stack) {
  const { round, questionTs } = await startRound(
    s,
    'start --hidden Should we adopt a four-day week?',
  );
  await s.event(message(s, 'U001', 'A secret opinion of workspace one: yes.', questionTs));
  await s.event(message(s, 'U002', 'Another secret opinion: no, customers need us.', questionTs));
  await s.settle();
  await s.command('UMOD', 'close');
  const post = await s.fake.waitFor(
    (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
  );
  await until(async () => s.runtime.store.messages.slot(SCOPE, round.id, 'statement:1'));
  const poll = await s.runtime.store.polls.poll(SCOPE, round.id, 1);
  if (!poll) throw new Error('no poll');
  await s.settle();
  const at = {
    statementTs: String(post.response?.ts),
    questionTs,
    blockId: 'consensus_rate_hidden',
  };
  return { round, poll, at };
}

/** The start form's submission, as Slack sends it for a member of `team`. */
function submitForm(s: Stack, team: string, user: string, channelId: string, responseUrl: string) {
  return s.interactive({
    type: 'view_submission',
    team: { id: team, domain: 'fake' },
    user: { id: user, team_id: team },
    api_app_id: 'A0001',
    view: {
      id: 'V1',
      type: 'modal',
      callback_id: 'consensus_start',
      private_metadata: JSON.stringify({ channelId, responseUrl }),
      state: {
        values: {
          question: { value: { type: 'plain_text_input', value: 'Should we move the office?' } },
          welfare: { value: { type: 'static_select', selected_option: { value: 'egalitarian' } } },
          scale: { value: { type: 'static_select', selected_option: { value: 'approval3' } } },
        },
      },
    },
  });
}

describe.each<Mode>(['http', 'socket'])('Slack installations (%s)', (mode) => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('refuses every command of another workspace with the same channel and user ids, and shows it nothing', async () => {
    s = await startStack({ mode });
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'A secret opinion of workspace one.', questionTs));
    await s.settle();
    const posts = s.fake.ok('chat.postMessage').length;
    const answered = responses(s).length;
    const commands = [
      'status',
      'results',
      `status ${round.id}`,
      `export ${round.id}`,
      'export all',
      'extend 30',
      'close',
      `cancel ${round.id}`,
      'finish',
      'help',
      'frobnicate',
      '',
      'start Should workspace two see this?',
    ];
    for (const text of commands) {
      // U001 exists in both workspaces; in T0002 it is someone else.
      const ack = await s.command('U001', text, CHANNEL, OTHER);
      expect.soft(ack.status, text).toBe(200);
      expect.soft(ack.body, text).toBeNull();
      await s.settle();
    }
    expect(responses(s).slice(answered)).toEqual(commands.map(() => refused));
    // Nothing posted, opened, uploaded or changed; nothing stored under T0002.
    expect(s.fake.ok('chat.postMessage')).toHaveLength(posts);
    expect(s.fake.calls.filter((c) => c.method === 'views.open')).toEqual([]);
    expect(s.fake.calls.filter((c) => c.method === 'upload')).toEqual([]);
    expect(s.fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
    const now = await s.runtime.store.rounds.require(SCOPE, round.id);
    expect(now.phase).toBe('collecting');
    expect(now.deadline).toBe(round.deadline);
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U001']);
    expect(await s.runtime.store.rounds.openInChannel(OTHER_SCOPE, CHANNEL)).toEqual([]);
    // Asked once: the answer is remembered for the channel.
    expect(lookUps(s, CHANNEL)).toBe(2); // once when the round started (membership), once here
  });

  it('refuses another workspace in a channel this token cannot see, a click and a form included', async () => {
    s = await startStack({ mode });
    const { round, poll, at } = await toPoll(s);
    // T0002's own channel: Slack tells this token it does not exist.
    s.fake.channels.set('C0999', { missing: true });
    await s.command('U001', 'status', 'C0999', OTHER);
    // The same channel id as ours, seen from T0002: a click on "our" statement and a form.
    await click(s, 'U003', 'agree', at, clickTs(), {
      team: OTHER,
      responseUrl: `${s.fake.base}/respond/click`,
    });
    const form = await submitForm(s, OTHER, 'U003', CHANNEL, `${s.fake.base}/respond/form`);
    expect(form.body).toBeNull();
    await s.settle();
    expect(responses(s).slice(-3)).toEqual([
      refused,
      { response_type: 'ephemeral', replace_original: false, text: NOT_SERVED },
      { response_type: 'ephemeral', replace_original: false, text: NOT_SERVED },
    ]);
    expect(await s.runtime.store.polls.ratings(SCOPE, poll)).toEqual([]);
    expect(await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([
      expect.objectContaining({ id: round.id }),
    ]);
    expect(s.fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
  });

  it('serves a Slack Connect partner in a shared channel: commands, clicks and the form', async () => {
    s = await startStack({ mode });
    s.fake.share(CHANNEL, PARTNER);
    const { round, poll, at } = await toPoll(s);
    await s.command('WEXT1', 'status', CHANNEL, PARTNER);
    await click(s, 'WEXT1', 'agree', at, clickTs(), { team: PARTNER });
    await s.settle();
    expect(String(responses(s).at(-1)?.text)).toContain(`Round \`${round.id}\``);
    expect(
      (await s.runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([['WEXT1', 'agree']]);
    await s.command('UMOD', `cancel ${round.id}`);
    await s.settle();
    await submitForm(s, PARTNER, 'WEXT1', CHANNEL, `${s.fake.base}/respond/form`);
    const started = await until(async () => {
      const [r] = await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL);
      return r && r.id !== round.id ? r : null;
    });
    expect(started.question).toBe('Should we move the office?');
    // conversations.info: one for the sharing, remembered since, and one per round started
    // or closed (whether the bot is in the channel).
    await s.command('WEXT1', 'status', CHANNEL, PARTNER);
    await s.settle();
    expect(lookUps(s, CHANNEL)).toBe(4);
  });
});

describe('Slack installations: when Slack cannot say', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('takes the replies and reactions of an org-wide installation, whose deliveries name a workspace too', async () => {
    // Slack's events for an org-wide install carry the workspace's team_id in
    // `authorizations` beside the organisation, which is what the bot stores rounds under.
    const organisation: Scope = { platform: 'slack', workspaceId: 'E0001' };
    s = await startStack({ organisation: 'E0001' });
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'Yes, with a trial of three months.', questionTs));
    await s.event(message(s, 'U002', 'No, our customers call on Fridays.', questionTs));
    // The same channel and thread, delivered for another organisation's installation.
    await s.event(message(s, 'U003', 'Not this organisation.', questionTs), {
      organisation: 'E0002',
    });
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.participantId)).toEqual(['U001', 'U002']);
    await s.command('UMOD', 'close');
    const post = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    await until(async () => s.fake.ok('reactions.add').length === 3);
    await s.event(reaction(s, 'U001', '+1', String(post.response?.ts)));
    await s.settle();
    const poll = await s.runtime.store.polls.poll(organisation, round.id, 1);
    if (!poll) throw new Error('no poll');
    const ratings = await s.runtime.store.polls.ratings(organisation, poll);
    expect(ratings.map((r) => [r.participantId, r.optionKey])).toEqual([['U001', 'agree']]);
    // Nothing went under the workspace's own team id.
    expect(await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);
  });

  it('refuses while conversations.info fails, and asks again next time', async () => {
    s = await startStack();
    s.fake.share(CHANNEL, PARTNER);
    await startRound(s);
    s.fake.fail('conversations.info', 'internal_error');
    await s.command('WEXT1', 'status', CHANNEL, PARTNER);
    await s.settle();
    expect(responses(s).at(-1)).toEqual({ response_type: 'ephemeral', text: NOT_CHECKED });
    await s.command('WEXT1', 'status', CHANNEL, PARTNER);
    await s.settle();
    expect(String(responses(s).at(-1)?.text)).toContain('It is collecting opinions');
  });
});
