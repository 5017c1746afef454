import { afterEach, describe, expect, it } from 'vitest';
import { chartSize } from '../../../src/platforms/chart/results-chart.js';
import { pngSize } from '../../support/png.js';
import {
  APP_TOKEN,
  BOT_TOKEN,
  CHANNEL,
  type Mode,
  message,
  opinions,
  reaction,
  SCOPE,
  SECRET,
  type Stack,
  startStack,
  until,
} from './support.js';

const QUESTION = 'Should our team adopt a four-day week?';
const OPINIONS: Record<string, string> = {
  U001: 'Yes. A four-day week would reduce burnout and help us focus on the work that matters most.',
  U002: 'No. Our customers expect us five days a week, and support would suffer without Friday cover.',
  U003: 'Only with a rota that keeps Friday support covered, and as a three-month trial first.',
  U004: 'I worry that cramming five days of work into four longer days is not a real gain for anyone.',
  U005: 'A trial makes sense to me, as long as we measure customer satisfaction and our own workload.',
};
const MEMBERS = Object.keys(OPINIONS);

const md = (text: string) => ({ type: 'mrkdwn', text });
const section = (text: string) => ({ type: 'section', text: md(text) });
const context = (...texts: string[]) => ({ type: 'context', elements: texts.map(md) });
const pct = (x: number) => `${Math.round(x * 100)}%`;

describe.each<Mode>(['http', 'socket'])('a whole round on Slack (%s mode)', (mode) => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('posts the question, progress, statement with its poll, and the results exactly so', async () => {
    let roundId = '';
    s = await startStack({
      mode,
      // The order the progress message passes through its states is fixed by holding each
      // stage until the previous edit reached Slack (see the hold on chat.update below).
      beforeGenerate: () =>
        until(async () => s.runtime.store.messages.slot(SCOPE, roundId, 'progress:1')).then(
          () => {},
        ),
      beforePredict: () =>
        until(async () => s.fake.calls.some((c) => c.method === 'chat.update')).then(() => {}),
    });
    const { fake, runtime } = s;

    // ---- /consensus start -------------------------------------------------------------------
    const started = await s.command(
      'UMOD',
      `start --candidates 4 --welfare utilitarian ${QUESTION}`,
    );
    expect(started.status).toBe(200);
    expect(started.body).toBeNull();
    expect(started.ms).toBeLessThan(3_000);
    const questionPost = await fake.waitFor((c) => c.method === 'chat.postMessage');
    const round = await until(async () => {
      const [r] = await runtime.store.rounds.openInChannel(SCOPE, CHANNEL);
      return r?.questionRef ? r : null;
    });
    roundId = round.id;
    const questionTs = String(questionPost.response?.ts);
    expect(questionPost.token).toBe(BOT_TOKEN);
    expect(questionPost.args).toEqual({
      channel: CHANNEL,
      text: `Question: ${QUESTION}`,
      blocks: [
        section(`:speech_balloon: ${QUESTION}`),
        context(
          'Reply in this thread with your opinion; edits and deletions count. Asked by <@UMOD>.',
          `Round \`${roundId}\` · 4 candidate statements · utilitarian welfare · agree / unsure / disagree poll`,
        ),
      ],
      unfurl_links: 'false',
      unfurl_media: 'false',
    });
    expect(round.settings).toEqual({
      candidates: 4,
      minutes: null,
      welfare: 'utilitarian',
      scale: 'approval3',
      pollMinutes: null,
      remindMinutes: null,
      anonymous: false,
      hidden: false,
      minTurnout: 0,
      reviseBelow: null,
    });

    // ---- five members answer in the thread ------------------------------------------------------
    for (const user of MEMBERS) {
      await s.event(message(s, user, OPINIONS[user] as string, questionTs));
    }
    await s.settle();
    expect((await opinions(s, roundId)).map((o) => [o.participantId, o.text])).toEqual(
      MEMBERS.map((u) => [u, OPINIONS[u]]),
    );

    // ---- /consensus close: progress, then the statement with its poll ---------------------------------
    const release = fake.hold((c) => c.method === 'chat.update');
    const closed = await s.command('UMOD', 'close');
    expect(closed.status).toBe(200);
    await until(
      async () => (await runtime.store.rounds.require(SCOPE, roundId)).phase === 'polling',
    );
    release();
    const statementPost = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' && String(c.args.text).startsWith('Proposed statement'),
    );
    await until(async () => fake.ok('reactions.add').length === 3);
    const statementTs = String(statementPost.response?.ts);

    const [set, scores, poll] = await Promise.all([
      runtime.store.polls.candidates(SCOPE, roundId, 1),
      runtime.store.polls.scores(SCOPE, roundId, 1),
      runtime.store.polls.poll(SCOPE, roundId, 1),
    ]);
    if (!set || !scores || !poll) throw new Error('the pipeline stored no statement');
    const stepsDone = (n: number) => {
      const labels = [
        [`${set.candidates.length} candidate statements written`, 'writing candidate statements'],
        [`approval predicted for 5 members (${scores.model})`, "predicting each member's approval"],
        ['statement chosen', 'choosing the statement'],
      ];
      return labels
        .map(([done, todo], i) => (i < n ? `:heavy_check_mark: ${done}` : `:hourglass: ${todo}`))
        .join('   ');
    };
    const posts = fake.ok('chat.postMessage');
    expect(posts.map((c) => c.args.text)).toEqual([
      `Question: ${QUESTION}`,
      'Working on it: 0 of 3 steps done.',
      `Proposed statement: ${poll.statement}`,
    ]);
    const progressPost = posts[1];
    const progressTs = String(progressPost?.response?.ts);
    expect(progressPost?.args).toEqual({
      channel: CHANNEL,
      thread_ts: questionTs,
      text: 'Working on it: 0 of 3 steps done.',
      blocks: [
        section(':hourglass_flowing_sand: Working on it: 0 of 3 steps done.'),
        context(stepsDone(0)),
      ],
      unfurl_links: 'false',
      unfurl_media: 'false',
    });
    expect(fake.ok('chat.update').map((c) => c.args)).toEqual([
      {
        channel: CHANNEL,
        ts: progressTs,
        text: 'Working on it: 1 of 3 steps done.',
        blocks: [
          section(':hourglass_flowing_sand: Working on it: 1 of 3 steps done.'),
          context(stepsDone(1)),
        ],
      },
      {
        channel: CHANNEL,
        ts: progressTs,
        text: 'Done: the statement is below.',
        blocks: [
          section(':white_check_mark: Done: the statement is below.'),
          context(stepsDone(3)),
        ],
      },
    ]);

    const predicted = Object.entries(poll.predicted)
      .map(([id, approval]) => ({ id, approval: approval as number }))
      .sort((a, b) => b.approval - a.approval);
    const lowest = Math.min(...predicted.map((p) => p.approval));
    expect(statementPost.args).toEqual({
      channel: CHANNEL,
      thread_ts: questionTs,
      text: `Proposed statement: ${poll.statement}`,
      blocks: [
        section(':ballot_box_with_ballot: *Proposed statement* (version 1)'),
        section(poll.statement),
        context(`${poll.method} Approvals predicted by ${scores.model}.`, ...set.notes),
        section(
          `*Predicted approval:* ${predicted.map((p) => `<@${p.id}> ${pct(p.approval)}`).join(' · ')}\n` +
            `Least served: ${predicted
              .filter((p) => p.approval === lowest)
              .map((p) => `<@${p.id}>`)
              .join(', ')} (${pct(lowest)}). What would make it work for them?`,
        ),
        section(
          '*Rate it:* :+1: agree · :shrug: unsure · :-1: disagree. React on this message; your latest reaction is your rating.',
        ),
      ],
      unfurl_links: 'false',
      unfurl_media: 'false',
    });
    expect(fake.ok('reactions.add').map((c) => c.args)).toEqual(
      ['+1', 'shrug', '-1'].map((name) => ({ channel: CHANNEL, timestamp: statementTs, name })),
    );

    // ---- members react; the bot's own reactions and other emoji do not count --------------------------
    const react = (user: string, name: string, removed = false) =>
      s.event(reaction(s, user, name, statementTs, removed));
    for (const name of ['+1', 'shrug', '-1']) await react(fake.botUserId, name);
    await react('U001', '+1');
    await react('U002', '-1');
    await react('U003', 'shrug');
    await react('U004', '+1::skin-tone-2');
    await react('U004', '-1'); // changes their mind ...
    await react('U004', '+1::skin-tone-2', true); // ... and takes the thumbs up back
    await react('U005', 'tada');
    await s.settle();
    expect(
      (await runtime.store.polls.ratings(SCOPE, poll)).map((r) => [r.participantId, r.optionKey]),
    ).toEqual([
      ['U001', 'agree'],
      ['U002', 'disagree'],
      ['U003', 'unsure'],
      ['U004', 'disagree'],
    ]);

    // ---- /consensus finish: the results in the thread (and the channel) --------------------------------
    const finished = await s.command('UMOD', 'finish');
    expect(finished.status).toBe(200);
    const resultsPost = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results'),
    );
    const actual: Record<string, number> = { U001: 1, U002: 0, U003: 0.5, U004: 0 };
    const errors = Object.entries(actual).map(([id, a]) => Math.abs((poll.predicted[id] ?? 0) - a));
    const mae = errors.reduce((x, y) => x + y, 0) / errors.length;
    expect(resultsPost.args).toEqual({
      channel: CHANNEL,
      thread_ts: questionTs,
      reply_broadcast: 'true',
      text: 'Results: 4 ratings, mean approval 38%',
      blocks: [
        section(`:bar_chart: *Results:* ${QUESTION}`),
        section(
          [
            `*Version 1:* ${poll.statement}`,
            '4 ratings (5 members gave opinions)',
            'Approval predicted for 5 members, rated by 4',
            ':+1: agree: 1',
            ':shrug: unsure: 1',
            ':-1: disagree: 2',
            'Mean approval: 38% · utilitarian welfare: 0.375',
            'Least served (rated): <@U002>, <@U004> at 0%: what would make it work for them?',
            `Predicted vs. rated: mean absolute error ${mae.toFixed(2)} over 4 members`,
            `Predicted to serve worst: ${predicted
              .filter((p) => p.approval === lowest)
              .map((p) => `<@${p.id}>`)
              .join(', ')} at ${pct(lowest)}`,
          ].join('\n'),
        ),
        context('Exclusion check: every opinion reached the statement writer in full.'),
        context(`Approvals were predicted by ${scores.model}.`),
      ],
      unfurl_links: 'false',
      unfurl_media: 'false',
    });
    expect((await runtime.store.rounds.require(SCOPE, roundId)).phase).toBe('closed');

    // The chart follows in the thread: a real PNG of the chart's size, via files.uploadV2.
    const completed = await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
    expect(completed.args).toMatchObject({
      channel_id: CHANNEL,
      thread_ts: questionTs,
      files: [{ id: 'F0001', title: 'Results chart' }],
    });
    expect(fake.ok('files.getUploadURLExternal')[0]?.args).toMatchObject({
      filename: `results-${roundId}.png`,
    });
    const upload = fake.calls.find((c) => c.method === 'upload');
    expect(pngSize(upload?.args.data as Buffer)).toEqual(chartSize(1));

    // What the moderator was told, only them, in order; nobody else was told anything.
    await s.settle();
    expect(fake.calls.filter((c) => c.method === 'respond').map((c) => c.args)).toEqual([
      {
        response_type: 'ephemeral',
        text:
          `:white_check_mark: Round \`${roundId}\` started: ${QUESTION}\n` +
          'Replies in the question’s thread are opinions; `/consensus close` ends the opinion phase.',
      },
      {
        response_type: 'ephemeral',
        text: `:lock: Round \`${roundId}\` is closed. I am writing and ranking candidate statements; progress shows in its thread.`,
      },
      {
        response_type: 'ephemeral',
        text: `:checkered_flag: Round \`${roundId}\` is finished; the results are in its thread.`,
      },
    ]);
    expect(fake.calls.filter((c) => c.method === 'chat.postEphemeral')).toEqual([]);
    expect(fake.calls.every((c) => c.status === 200)).toBe(true);
    if (mode === 'socket') {
      expect(fake.calls.find((c) => c.method === 'apps.connections.open')?.token).toBe(APP_TOKEN);
    }
    // No secret in any log line.
    const logged = JSON.stringify(s.log.lines);
    for (const secret of [BOT_TOKEN, APP_TOKEN, SECRET]) expect(logged).not.toContain(secret);
  });
});
