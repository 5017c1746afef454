import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeliberationService } from '../../../src/deliberation/service.js';
import { START_REFUSAL } from '../../../src/platforms/slack/commands.js';
import type { SlackService } from '../../../src/platforms/slack/service.js';
import { clockInsideWindows } from '../../support/clock.js';
import {
  CHANNEL,
  type Mode,
  message,
  opinions,
  SCOPE,
  type Stack,
  startRound,
  startStack,
  until,
} from './support.js';

const ephemeral = (text: string) => ({ response_type: 'ephemeral', text });
const responses = (s: Stack) =>
  s.fake.calls.filter((c) => c.method === 'respond').map((c) => c.args);

describe('Slack slash commands', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('answers wrong or missing arguments with an ephemeral usage message, and keeps working', async () => {
    s = await startStack();
    const startUsage =
      'Usage: `/consensus start [--candidates N] [--minutes M] [--welfare utilitarian|egalitarian|nash|schulze|bridging] ' +
      '[--scale approval3|likert7] [--poll-minutes M] [--remind-minutes M] [--hidden] [--anonymous] [--min-turnout N] [--revise-below P] &lt;question&gt;`';
    const commandsUsage =
      'Usage: `/consensus start|close|status|critique|finish|cancel|results|export|extend|help …`';
    const cases: [string, string][] = [
      ['start', `The question is empty: write the question after the command.\n${startUsage}`],
      // Zero-width characters alone: trim() keeps them, and the channel would see a blank question.
      [
        'start \u200b\u2060',
        `The question is empty: write the question after the command.\n${startUsage}`,
      ],
      [
        'start --candidates 99 Why?',
        `--candidates takes a whole number from 1 to 16.\n${startUsage}`,
      ],
      [
        'start --candidates two Why?',
        `--candidates takes a whole number from 1 to 16.\n${startUsage}`,
      ],
      ['start --minutes', `--minutes needs a value.\n${startUsage}`],
      [
        'start --welfare maximin Why?',
        `--welfare is one of utilitarian, egalitarian, nash, schulze, bridging.\n${startUsage}`,
      ],
      ['start --scale stars Why?', `--scale is one of approval3, likert7.\n${startUsage}`],
      [
        'start --revise-below 0 Why?',
        `--revise-below takes a whole number from 1 to 100.\n${startUsage}`,
      ],
      [
        'start --colour red Why?',
        `Unknown option --colour; the options are --candidates, --minutes, --welfare, --scale, --poll-minutes, --remind-minutes, --min-turnout, --revise-below, --hidden, --anonymous.\n${startUsage}`,
      ],
      // One dash: a mistyped option, not words of a question posted to the channel.
      [
        'start -minutes 5 Why?',
        `-minutes has one dash; options take two: --minutes.\n${startUsage}`,
      ],
      [
        'close r1 now please',
        '`/consensus close` takes at most a round id.\nUsage: `/consensus close [round-id]`',
      ],
      ['status r:1', '"r:1" is not a round id.\nUsage: `/consensus status [round-id]`'],
      [
        'frobnicate',
        `I don't know "frobnicate". \`/consensus help\` lists what I do.\n${commandsUsage}`,
      ],
      [
        'Should we move the office?',
        `I don't know "Should". To ask a question, write \`/consensus start Should we move the office?\`.\n${commandsUsage}`,
      ],
    ];
    for (const [text, answer] of cases) {
      const ack = await s.command('U001', text);
      expect.soft(ack.status, text).toBe(200);
      expect.soft(ack.body, text).toEqual(ephemeral(answer));
    }
    const help = await s.command('U001', 'help');
    expect(String(help.body?.text)).toContain('/consensus close [round-id]');
    // Buttons polls take no reactions: help must not send their members to the emoji.
    expect(String(help.body?.text)).toContain(
      'In anonymous and hidden rounds, click a button under the statement instead',
    );
    // Nothing was started or posted, and the app still works.
    expect(s.fake.ok('chat.postMessage')).toEqual([]);
    await startRound(s);
  });

  it('parses flags and keeps the question as typed, dashes and quotes included', async () => {
    s = await startStack();
    const { round } = await startRound(
      s,
      'start —scale likert7 --minutes=30 --candidates 3 --poll-minutes 20 --remind-minutes 10 --hidden --min-turnout 4 --revise-below=40 -- --Is "remote-first" better than hybrid? &amp; why',
    );
    expect(round.question).toBe('--Is "remote-first" better than hybrid? & why');
    expect(round.settings).toEqual({
      candidates: 3,
      minutes: 30,
      welfare: 'egalitarian',
      scale: 'likert7',
      pollMinutes: 20,
      remindMinutes: 10,
      anonymous: false,
      hidden: true,
      minTurnout: 4,
      reviseBelow: 40,
    });
    expect(round.deadline).not.toBeNull();
  });

  it('refuses, with an ephemeral message, members who may not start or moderate', async () => {
    s = await startStack({ moderators: 'UMOD,WMOD2' });
    s.fake.users.set('UADMIN', { is_admin: true });
    await s.command('UPLAIN', 'start Should we?');
    await until(async () => responses(s).length === 1);
    expect(responses(s)).toEqual([ephemeral(START_REFUSAL)]);
    expect(await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);

    const { round, questionTs } = await startRound(s, 'start Should we move?', 'UADMIN');
    await s.event(message(s, 'U001', 'Yes, the new place is closer to the station.', questionTs));
    await s.event(message(s, 'U002', 'No, the rent is much higher there.', questionTs));
    await s.settle();
    await s.command('UPLAIN', 'close');
    await s.settle();
    await s.command('UPLAIN', `cancel ${round.id}`);
    await s.settle();
    expect(responses(s).slice(-2)).toEqual([
      ephemeral('Only a moderator or the member who started this round may close it.'),
      ephemeral('Only a moderator or the member who started this round may cancel it.'),
    ]);
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    // A listed moderator who did not start the round may close it.
    await s.command('UMOD', 'close');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase !== 'collecting',
    );
    expect(s.fake.calls.filter((c) => c.method === 'users.info').map((c) => c.args.user)).toEqual([
      'UPLAIN',
      'UADMIN',
    ]);
  });

  it('treats a member whose users.info lookup fails as a plain member, and asks Slack again next time', async () => {
    s = await startStack({ moderators: 'UMOD' });
    const { round, questionTs } = await startRound(s, 'start Should we move?', 'UMOD');
    await s.event(message(s, 'U001', 'Yes, the new place is closer to the station.', questionTs));
    await s.event(message(s, 'U002', 'No, the rent is much higher there.', questionTs));
    await s.settle();
    // UPLAIN is an admin, but Slack cannot say so this once: no moderator rights.
    s.fake.users.set('UPLAIN', { is_admin: true });
    s.fake.fail('users.info', 'internal_error');
    await s.command('UPLAIN', 'close');
    await s.settle();
    expect(responses(s).at(-1)).toEqual(
      ephemeral('Only a moderator or the member who started this round may close it.'),
    );
    expect((await s.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    expect(s.log.lines.map((l) => l.message)).toContain('users.info failed; treating as member');
    // The failure is not remembered: the next command asks again, and the admin may close.
    await s.command('UPLAIN', 'close');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase !== 'collecting',
    );
    expect(s.fake.calls.filter((c) => c.method === 'users.info').map((c) => c.args.user)).toEqual([
      'UPLAIN',
      'UPLAIN',
    ]);
  });

  it('answers a command that fails for no rule of its own (Redis away, a bug) with a sorry', async () => {
    s = await startStack({
      service: (real: DeliberationService): SlackService => ({
        ...pick(real),
        status: async () => {
          throw new Error('Connection is closed.');
        },
      }),
    });
    const ack = await s.command('U001', 'status');
    expect(ack.status).toBe(200);
    await s.settle();
    expect(responses(s)).toEqual([
      ephemeral('Sorry, something went wrong on my side. Please try again in a moment.'),
    ]);
    expect(s.log.lines.filter((l) => l.level === 'error')).toEqual([
      {
        level: 'error',
        fields: { command: 'status', error: expect.stringContaining('Connection is closed') },
        message: 'slash command failed',
      },
    ]);
  });

  it('extends the open phase for moderators, and refuses others', async () => {
    s = await startStack({ moderators: 'UMOD' });
    const { round } = await startRound(s, 'start --minutes 5 Should we move?', 'UMOD');
    await s.command('UPLAIN', 'extend 60');
    await s.settle();
    await s.command('UMOD', 'extend 60');
    await until(async () => responses(s).length >= 3);
    const [denied, extended] = responses(s).slice(-2);
    expect(denied).toEqual(
      ephemeral('Only a moderator or the member who started this round may extend it.'),
    );
    expect(String(extended?.text)).toMatch(/stays open until <!date\^\d+/);
    const after = await s.runtime.store.rounds.require(SCOPE, round.id);
    expect(after.deadline).toBeGreaterThan(Date.now() + 59 * 60_000);
    const job = await s.runtime.queues.deadline.getJob(
      `deadline-slack.${SCOPE.workspaceId}-${round.id}-collecting-v0`,
    );
    expect(job?.opts.delay).toBeGreaterThan(59 * 60_000);
  });

  it('lets anyone start when SLACK_MODERATORS is unset, and the starter moderate their round', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s, 'start Pizza on Fridays?', 'U001');
    await s.command('U002', 'close');
    await s.settle();
    expect(responses(s).at(-1)).toEqual(
      ephemeral('Only a moderator or the member who started this round may close it.'),
    );
    await s.command('U001', 'close');
    await s.settle();
    expect(responses(s).at(-1)).toEqual(
      ephemeral(
        'This round has 0 opinions; it needs at least 2 to find common ground. It stays open: reply in its thread.',
      ),
    );
    // Before there is a statement: what to do, in commands, not the state machine's phases.
    const noStatement = 'There is no statement yet: `close` the round first to write one.';
    await s.command('U001', 'critique');
    await s.settle();
    expect(responses(s).at(-1)).toEqual(
      ephemeral(
        `This round is collecting opinions, so it cannot take critiques yet. ${noStatement}`,
      ),
    );
    await s.command('U001', 'finish');
    await s.settle();
    expect(responses(s).at(-1)).toEqual(
      ephemeral(`This round is collecting opinions, so it cannot be finished yet. ${noStatement}`),
    );
    await s.event(message(s, 'U002', 'Yes please.', questionTs));
    await s.event(message(s, 'U003', 'Only if there is a vegetarian option.', questionTs));
    await s.settle();
    await s.command('U001', `cancel ${round.id}`);
    await s.settle();
    expect(responses(s).at(-1)).toEqual(ephemeral(`Round \`${round.id}\` is cancelled.`));
    const notice = await s.fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).includes('cancelled'),
    );
    expect(notice.args.text).toBe('This round was cancelled by <@U001>.');
  });

  it('will not start a round where the bot cannot read the replies', async () => {
    s = await startStack();
    s.fake.channels.set('C0002', { is_member: false });
    s.fake.channels.set('G0003', { missing: true });
    s.fake.channels.set('D0004', { is_im: true });
    // One at a time: commands run after their acknowledgement, so answers to commands
    // sent together may arrive in any order.
    for (const channel of ['C0002', 'G0003', 'D0004']) {
      await s.command('U001', 'start Why?', channel);
      await s.settle();
    }
    const notMember =
      'I am not in this channel, so I could not read the replies. Add me first ' +
      '(mention me and choose “Invite”, or use the channel’s Integrations tab), then start again.';
    expect(responses(s)).toEqual([
      ephemeral(notMember),
      ephemeral(notMember),
      ephemeral(
        'Rounds run in channels, where members can reply in a thread. Start one in a channel.',
      ),
    ]);
    expect(s.fake.ok('chat.postMessage')).toEqual([]);
  });

  it('reports status and results only to the asker, and exports the round as a file in its thread', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'Yes, a trial first.', questionTs));
    await s.settle();
    for (const text of ['status', 'results', `export ${round.id}`]) {
      await s.command('U005', text);
      await s.settle();
    }
    const [status, results, exported] = responses(s).slice(1);
    expect(status).toEqual(
      ephemeral(
        `Round \`${round.id}\`: Should our team adopt a four-day week?\nIt is collecting opinions: 1 opinion.`,
      ),
    );
    expect(results?.text).toBe('Results: no statement has been put to the vote yet.');
    expect(exported).toEqual(ephemeral(`The export of round \`${round.id}\` is in its thread.`));
    const complete = s.fake.ok('files.completeUploadExternal')[0];
    expect(complete?.args).toMatchObject({
      channel_id: CHANNEL,
      thread_ts: questionTs,
      initial_comment: `Export of round \`${round.id}\`, asked for by <@U005>.`,
    });
    expect(s.fake.calls.find((c) => c.method === 'upload')?.args.bytes).toBeGreaterThan(100);
    expect(s.fake.ok('files.getUploadURLExternal')[0]?.args.filename).toBe(
      `round-${round.id}.json`,
    );
  });

  it('opens a form for /consensus alone and starts the round it describes', async () => {
    s = await startStack();
    const ack = await s.command('U001', '');
    expect(ack.body).toBeNull();
    const open = await s.fake.waitFor((c) => c.method === 'views.open');
    const view = open.args.view as {
      callback_id: string;
      private_metadata: string;
      blocks: { block_id: string }[];
    };
    expect(open.args.trigger_id).toMatch(/^trigger-/);
    expect(view.callback_id).toBe('consensus_start');
    expect(view.blocks.map((b) => b.block_id)).toEqual([
      'question',
      'candidates',
      'minutes',
      'welfare',
      'scale',
    ]);

    const submit = (values: Record<string, unknown>) =>
      s.interactive({
        type: 'view_submission',
        team: { id: 'T0001', domain: 'fake' },
        user: { id: 'U001', team_id: 'T0001' },
        api_app_id: 'A0001',
        view: {
          id: 'V1',
          type: 'modal',
          callback_id: 'consensus_start',
          private_metadata: view.private_metadata,
          state: { values },
        },
      });
    const text = (value: string | null) => ({ value: { type: 'plain_text_input', value } });
    const select = (value: string) => ({
      value: { type: 'static_select', selected_option: { value } },
    });
    const invalid = await submit({
      question: text('Should we hire a second designer?'),
      candidates: { value: { type: 'number_input', value: '40' } },
      minutes: { value: { type: 'number_input', value: null } },
      welfare: select('nash'),
      scale: select('likert7'),
    });
    expect(invalid.body).toEqual({
      response_action: 'errors',
      errors: { candidates: 'Candidates takes a whole number from 1 to 16.' },
    });
    const valid = await submit({
      question: text('Should we hire a second designer?'),
      candidates: { value: { type: 'number_input', value: '5' } },
      minutes: { value: { type: 'number_input', value: null } },
      welfare: select('nash'),
      scale: select('likert7'),
    });
    expect(valid.body).toBeNull();
    const round = await until(
      async () => (await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL))[0],
    );
    expect(round.question).toBe('Should we hire a second designer?');
    expect(round.settings).toEqual({
      candidates: 5,
      minutes: null,
      welfare: 'nash',
      scale: 'likert7',
      pollMinutes: null,
      remindMinutes: null,
      anonymous: false,
      hidden: false,
      minTurnout: 0,
      reviseBelow: null,
    });
    await s.settle();
    // Answered through the command's response_url, which works in any channel.
    expect(responses(s)).toEqual([
      {
        response_type: 'ephemeral',
        replace_original: false,
        text:
          `:white_check_mark: Round \`${round.id}\` started: Should we hire a second designer?\n` +
          'Replies in the question’s thread are opinions; `/consensus close` ends the opinion phase.',
      },
    ]);
    expect(s.fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
    expect(await opinions(s, round.id)).toEqual([]);
  });

  it('answers the form where the bot is not a member, and in a DM, through the response_url', async () => {
    s = await startStack();
    s.fake.channels.set('C0002', { is_member: false });
    s.fake.channels.set('D0004', { is_im: true });
    // Slack refuses ephemeral messages in those conversations.
    s.fake.fail('chat.postEphemeral', 'channel_not_found', 10);
    for (const channel of ['C0002', 'D0004']) {
      const metadata = await openForm(s, 'U001', channel);
      const ack = await submitForm(s, 'U001', metadata, 'Should we move the stand-up?');
      expect(ack.body).toBeNull();
    }
    await s.settle();
    const answer = (text: string) => ({
      response_type: 'ephemeral',
      replace_original: false,
      text,
    });
    expect(responses(s)).toEqual([
      answer(
        'I am not in this channel, so I could not read the replies. Add me first ' +
          '(mention me and choose “Invite”, or use the channel’s Integrations tab), then start again.',
      ),
      answer(
        'Rounds run in channels, where members can reply in a thread. Start one in a channel.',
      ),
    ]);
    expect(s.fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
    expect(s.fake.ok('chat.postMessage')).toEqual([]);
  });

  it('starts nothing in a channel archived while its form was open, and says why', async () => {
    s = await startStack();
    const metadata = await openForm(s, 'U001', CHANNEL);
    s.fake.channels.set(CHANNEL, { is_archived: true });
    await submitForm(s, 'U001', metadata, 'Should we move the stand-up?');
    await s.settle();
    expect(responses(s).map((r) => r.text)).toEqual([
      'This channel is archived: start the round in another one.',
    ]);
    expect(await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);
  });

  it('answers the form with an ephemeral message when the response_url no longer works', async () => {
    s = await startStack();
    const metadata = await openForm(s, 'U001', CHANNEL);
    // A response_url lives 30 minutes: a form left open longer finds it refused.
    s.fake.rateLimit('respond', 1);
    await submitForm(s, 'U001', metadata, 'Should we move the stand-up?');
    await s.settle();
    const told = s.fake.ok('chat.postEphemeral');
    expect(told.map((c) => [c.args.channel, c.args.user])).toEqual([[CHANNEL, 'U001']]);
    expect(String(told[0]?.args.text)).toContain('started: Should we move the stand-up?');
  });

  it('follows no response_url but Slack’s own: a form naming another host is answered ephemerally', async () => {
    // A listener that is not Slack: had the bot followed the URL, the answer would land here.
    const hits: string[] = [];
    const other = createServer((req, res) => {
      hits.push(String(req.url));
      res.end('ok');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    try {
      s = await startStack();
      const metadata = JSON.parse(await openForm(s, 'U001', CHANNEL)) as Record<string, unknown>;
      const { port } = other.address() as AddressInfo;
      metadata.responseUrl = `http://127.0.0.1:${port}/hooks/elsewhere`;
      await submitForm(s, 'U001', JSON.stringify(metadata), 'Should we move the stand-up?');
      const told = await s.fake.waitFor((c) => c.method === 'chat.postEphemeral');
      expect(String(told.args.text)).toContain('started: Should we move the stand-up?');
      expect(hits).toEqual([]);
    } finally {
      await new Promise((r) => other.close(r));
    }
  });

  it('opens the form before a slow moderator lookup, and checks who may start on submit', async () => {
    s = await startStack({ moderators: 'UMOD' });
    // users.info takes longer than the 3 s a trigger_id lives.
    const release = s.fake.hold((c) => c.method === 'users.info');
    const ack = await s.command('UPLAIN', '');
    expect(ack.body).toBeNull();
    const open = await s.fake.waitFor((c) => c.method === 'views.open', 2_000);
    expect(open.args.trigger_id).toMatch(/^trigger-/);
    expect(s.fake.calls.filter((c) => c.method === 'users.info')).toEqual([]);
    const metadata = String((open.args.view as { private_metadata: string }).private_metadata);
    await submitForm(s, 'UPLAIN', metadata, 'Should we move the stand-up?');
    await s.fake.waitFor((c) => c.method === 'users.info');
    release();
    await s.settle();
    expect(responses(s)).toEqual([
      {
        response_type: 'ephemeral',
        replace_original: false,
        text: START_REFUSAL,
      },
    ]);
    expect(await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);
  });

  it('opens the form while counting the command is stuck (Redis slow), and still limits what is submitted', async () => {
    let release = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    s = await startStack({
      env: { LIMIT_STARTS_PER_MEMBER_PER_HOUR: '1' },
      now: clockInsideWindows(),
      service: (real: DeliberationService): SlackService => ({
        ...pick(real),
        // The count's INCR waits, as it does while Redis is away.
        admitCommand: async (request) => {
          await stuck;
          return real.admitCommand(request);
        },
      }),
    });
    try {
      const started = Date.now();
      const first = await openForm(s, 'U001', CHANNEL);
      // Well inside the 3 s the trigger_id lives.
      expect(Date.now() - started).toBeLessThan(2_000);
      await submitForm(s, 'U001', first, 'Should we move the stand-up?');
      await s.settle();
      expect(responses(s).at(-1)?.text).toMatch(/^:white_check_mark: Round `r/);
      const second = await openForm(s, 'U001', CHANNEL);
      await submitForm(s, 'U001', second, 'Should we move the retro too?');
      await s.settle();
      expect(String(responses(s).at(-1)?.text)).toMatch(
        /^You have started 1 round in the past hour, the most allowed; try again in \d+ (minute|second)s?\.$/,
      );
      expect(await s.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toHaveLength(1);
    } finally {
      release();
    }
  });

  it('does not open the form for a member past the command limit while Redis answers', async () => {
    s = await startStack({
      env: { LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE: '1' },
      now: clockInsideWindows(),
    });
    await s.command('U001', 'status');
    await s.settle();
    await s.command('U001', '');
    await s.settle();
    await until(async () => responses(s).length === 2 || null);
    expect(String(responses(s).at(-1)?.text)).toMatch(
      /^You have run 1 command in the past minute, the most allowed; try again in \d+ (second|minute)s?\.$/,
    );
    expect(s.fake.calls.filter((c) => c.method === 'views.open')).toEqual([]);
  });

  it('runs a critique round in the thread: invite, critiques, a revised statement with its own poll', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    await s.event(message(s, 'U001', 'Yes, try a four-day week for three months.', questionTs));
    await s.event(message(s, 'U002', 'No, our customers need us on Fridays.', questionTs));
    await s.settle();
    await s.command('UMOD', 'close');
    await until(
      async () => (await s.runtime.store.rounds.require(SCOPE, round.id)).phase === 'polling',
    );
    await s.command('UMOD', 'critique');
    const invite = await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('What does the statement miss?'),
    );
    expect(invite.args.thread_ts).toBe(questionTs);
    await s.event(message(s, 'U002', 'It ignores Friday support completely.', questionTs));
    await s.settle();
    expect(
      (await s.runtime.store.contributions.list(SCOPE, round.id, 'critique', 1)).map((c) => c.text),
    ).toEqual(['It ignores Friday support completely.']);
    await s.command('UMOD', 'close');
    await s.fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.blocks ? JSON.stringify(c.args.blocks) : '').includes('(version 2)'),
    );
    await until(async () => s.fake.ok('reactions.add').length === 6);
    expect(responses(s).at(-1)).toEqual(
      ephemeral(
        `:lock: Critiques of round \`${round.id}\` are closed. A revised statement follows in its thread.`,
      ),
    );
  });

  it('waits out a 429 on chat.postMessage and then posts the question once', async () => {
    s = await startStack();
    s.fake.rateLimit('chat.postMessage', 1);
    const started = Date.now();
    const { round } = await startRound(s);
    const attempts = s.fake.calls.filter((c) => c.method === 'chat.postMessage');
    expect(attempts.map((c) => c.status)).toEqual([429, 200]);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(round.questionRef?.messageId).toBe(attempts[1]?.response?.ts);
  });
});

describe.each<Mode>(['http', 'socket'])('acknowledging within 3 s (%s mode)', (mode) => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('acks a slash command at once while the work behind it is still running', async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    s = await startStack({
      mode,
      service: (real: DeliberationService): SlackService => ({
        ...pick(real),
        start: async (command) => {
          await gate;
          return real.start(command);
        },
      }),
    });
    const ack = await s.command('U001', 'start Is this slow?');
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(1_000);
    expect(s.fake.ok('chat.postMessage')).toEqual([]);
    release();
    await s.fake.waitFor((c) => c.method === 'chat.postMessage');
  });
});

/** `/consensus` alone in `channel`: the form's private_metadata, as views.open got it. */
async function openForm(s: Stack, user: string, channel: string): Promise<string> {
  const before = s.fake.calls.filter((c) => c.method === 'views.open').length;
  await s.command(user, '', channel);
  const open = await until(
    async () => s.fake.calls.filter((c) => c.method === 'views.open')[before],
  );
  return String((open.args.view as { private_metadata: string }).private_metadata);
}

/** Submits the start form with a question and the defaults. */
function submitForm(s: Stack, user: string, metadata: string, question: string) {
  return s.interactive({
    type: 'view_submission',
    team: { id: 'T0001', domain: 'fake' },
    user: { id: user, team_id: 'T0001' },
    api_app_id: 'A0001',
    view: {
      id: 'V1',
      type: 'modal',
      callback_id: 'consensus_start',
      private_metadata: metadata,
      state: {
        values: {
          question: { value: { type: 'plain_text_input', value: question } },
          welfare: { value: { type: 'static_select', selected_option: { value: 'egalitarian' } } },
          scale: { value: { type: 'static_select', selected_option: { value: 'approval3' } } },
        },
      },
    },
  });
}

function pick(real: DeliberationService): SlackService {
  return {
    start: (c) => real.start(c),
    close: (t, a) => real.close(t, a),
    critique: (t, a) => real.critique(t, a),
    finish: (t, a) => real.finish(t, a),
    cancel: (t, a) => real.cancel(t, a),
    extend: (t, a, m) => real.extend(t, a, m),
    status: (t) => real.status(t),
    results: (t) => real.results(t),
    export: (t) => real.export(t),
    exportWorkspace: (scope, actor) => real.exportWorkspace(scope, actor),
    admitCommand: (request) => real.admitCommand(request),
    reply: (e) => real.reply(e),
    removeReply: (e) => real.removeReply(e),
    removeReplyInChannel: (e) => real.removeReplyInChannel(e),
    react: (e) => real.react(e),
    recentOpenRounds: (scope, limit) => real.recentOpenRounds(scope, limit),
    pollReactions: (scope, channel, ts) => real.pollReactions(scope, channel, ts),
    isStatementMessage: (scope, channel, ts) => real.isStatementMessage(scope, channel, ts),
    channelGone: (scope, channel) => real.channelGone(scope, channel),
    botRemoved: (scope, channel, seconds) => real.botRemoved(scope, channel, seconds),
    botBack: (scope, channel) => real.botBack(scope, channel),
    statementDeleted: (scope, channel, ts) => real.statementDeleted(scope, channel, ts),
    threadDeleted: (scope, channel, ts) => real.threadDeleted(scope, channel, ts),
  };
}
