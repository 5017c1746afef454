import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { RewardModel } from '../../src/models/ports.js';
import {
  CHANNEL,
  type Harness,
  MEMBER,
  MODERATOR,
  OPINIONS,
  postOpinions,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';
import { refusal } from '../support/refusal.js';

describe('a whole round through the service, BullMQ workers and a real Redis', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  async function addOpinions(threadRootId: string, ids = Object.keys(OPINIONS)) {
    let at = 1;
    for (const id of ids) {
      const outcome = await h.runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId,
        messageId: `msg-${id}`,
        userId: id,
        text: OPINIONS[id] ?? '',
        at: at++,
      });
      expect(outcome.status).toBe('recorded');
    }
  }

  it('asks which round when a channel has several open, each with its question, saying how to name one', async () => {
    const { round: first } = await startRound(h);
    const { round: second } = await startRound(h, 'Should we move the office?');
    const refused = await h.runtime.service
      .status({ scope: SCOPE, channelId: CHANNEL })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    const message = (refused as Error).message;
    expect(message).toMatch(
      /^This channel has 2 open rounds: .+\. Name one: give its id after the command\.$/,
    );
    expect(message).toContain(`\`${first.id}\` (“${first.question}”)`);
    expect(message).toContain(`\`${second.id}\` (“Should we move the office?”)`);
  });

  it('runs from question to results: statement, poll, ratings, welfare and least served', async () => {
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const statement = await h.platform.waitFor('statement', round.id);
    expect(statement.text).toMatch(/Predicted approval per member/);

    const polled = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(polled.phase).toBe('polling');
    expect(polled.version).toBe(1);
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    expect(Object.keys(poll?.predicted ?? {}).sort()).toEqual(['ana', 'ben', 'cai', 'dee']);

    const votes: Record<string, string> = {
      ana: 'agree',
      ben: 'disagree',
      cai: 'agree',
      dee: 'unsure',
    };
    for (const [userId, optionKey] of Object.entries(votes)) {
      await h.runtime.service.react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: statement.ref.messageId,
        userId,
        optionKey,
        at: 100,
        removed: false,
      });
    }
    const results = await h.runtime.service.finish({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const v1 = results.versions[0]?.results;
    expect(v1?.ratingCount).toBe(4);
    expect(v1?.distribution.map((d) => d.count)).toEqual([2, 1, 1]);
    expect(v1?.meanApproval).toBeCloseTo((1 + 0 + 1 + 0.5) / 4, 10);
    expect(v1?.welfareValue).toBe(0); // egalitarian: ben disagreed
    expect(v1?.leastServed?.participantIds).toEqual(['ben']);
    await h.platform.waitFor('results', round.id);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('closed');
    // The progress message was posted once and then edited.
    expect(
      h.platform.posted.filter((m) => m.kind === 'progress' && m.roundId === round.id),
    ).toHaveLength(1);
  });

  it('acts on a named round only from its own channel, and answers read-only commands after finish', async () => {
    const { service } = h.runtime;
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId);
    const elsewhere = { scope: SCOPE, channelId: 'C-other', roundId: round.id };
    // A moderator in another channel can neither act on nor read this channel's round.
    await expect(service.cancel(elsewhere, MODERATOR)).rejects.toThrow(/another channel/);
    await expect(service.export(elsewhere)).rejects.toThrow(/another channel/);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');

    const here = { scope: SCOPE, channelId: CHANNEL };
    await service.close(here, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await service.finish(here, MODERATOR);
    // No round is open now, but status, results and export still mean the one just finished.
    expect((await service.status(here)).roundId).toBe(round.id);
    expect((await service.results(here)).roundId).toBe(round.id);
    expect((await service.export(here)).round.id).toBe(round.id);
    // Commands that change a round still need an open one.
    await expect(service.close(here, MODERATOR)).rejects.toThrow(/no open round/);
  });

  it('keeps the round open with a clear message when fewer than 2 opinions were given', async () => {
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId, ['ana']);
    const error = await h.runtime.service
      .close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR)
      .catch((e) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error.code).toBe('not_enough_opinions');
    expect(error.message).toMatch(/1 opinion;.*at least 2/);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
  });

  it('runs the pipeline once when two closes race, and tells the second one why', async () => {
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId);
    const results = await Promise.allSettled([
      h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR),
      h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failure.reason.message).toMatch(/already closed/);
    await h.platform.waitFor('statement', round.id);
    // A close while generating/polling is refused too, with the reason.
    await expect(
      h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR),
    ).rejects.toThrow(/finish/);
    expect(h.platform.posted.filter((m) => m.kind === 'statement')).toHaveLength(1);
    expect((await h.runtime.queues.generate.getJobCounts('completed')).completed).toBe(1);
  });

  it('refuses a rating on a closed poll and counts nothing', async () => {
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const statement = await h.platform.waitFor('statement', round.id);
    await h.runtime.service.finish(
      { scope: SCOPE, channelId: CHANNEL, roundId: round.id },
      MODERATOR,
    );
    const error = await h.runtime.service
      .react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: statement.ref.messageId,
        userId: 'ana',
        optionKey: 'agree',
        at: 5,
        removed: false,
      })
      .catch((e) => e);
    expect(error.code).toBe('poll_closed');
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    expect(poll?.closedAt).not.toBeNull();
    expect(await h.runtime.store.polls.ratings(SCOPE, poll!)).toEqual([]);
  });

  it('refuses a rating on a closed poll once: the platform retrying the event is told it is a duplicate', async () => {
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const statement = await h.platform.waitFor('statement', round.id);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await h.runtime.service.finish(target, MODERATOR);
    const late = {
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: statement.ref.messageId,
      userId: 'ana',
      optionKey: 'agree',
      at: 5,
      removed: false,
      eventId: 'Ev-late-reaction',
    };
    // The adapters tell the member on a refusal: a retried delivery must not tell them again.
    await expect(h.runtime.service.react(late)).rejects.toMatchObject({ code: 'poll_closed' });
    await expect(h.runtime.service.react(late)).resolves.toMatchObject({ status: 'duplicate' });
  });

  it('stores an over-long opinion truncated and tells the member; an empty one counts for nothing', async () => {
    const { round, thread } = await startRound(h);
    const base = { scope: SCOPE, channelId: CHANNEL, threadRootId: thread.messageId, at: 1 };
    const long = await h.runtime.service.reply({
      ...base,
      messageId: 'm1',
      userId: 'ana',
      text: 'word '.repeat(1_000),
    });
    expect(long.status).toBe('recorded');
    expect(long.notice).toMatch(/4999 characters; only the first 4000/);
    const empty = await h.runtime.service.reply({
      ...base,
      messageId: 'm2',
      userId: 'ben',
      text: '   \n ',
    });
    expect(empty.status).toBe('removed');
    const opinions = await h.runtime.store.contributions.list(SCOPE, round.id, 'opinion', 0);
    expect(opinions.map((o) => [o.participantId, o.truncated])).toEqual([['ana', true]]);
  });

  it('counts a reply of zero-width characters, emoji or punctuation alone for nothing, and says why', async () => {
    const { round, thread } = await startRound(h);
    const base = { scope: SCOPE, channelId: CHANNEL, threadRootId: thread.messageId, at: 1 };
    const service = h.runtime.service;
    const wordless = ['\u200b\u200b\u2060\ufeff', '👍🏽🎉', ':+1::skin-tone-2: :tada:', '?!', '1️⃣'];
    for (const [i, text] of wordless.entries()) {
      const outcome = await service.reply({ ...base, messageId: `w${i}`, userId: `u${i}`, text });
      expect(outcome).toEqual({
        status: 'removed',
        kind: 'opinion',
        roundId: round.id,
        notice: 'Your reply has no words in it, so it does not count as an opinion.',
      });
    }
    // A number, or a word beside an emoji, is something to build on.
    await service.reply({ ...base, messageId: 'n', userId: 'ana', text: '4 👍' });
    await service.reply({ ...base, messageId: 'e', userId: 'ben', text: '👍 yes :tada:' });
    // An edit that leaves no words takes the opinion back, and says so.
    const edit = await service.reply({
      ...base,
      messageId: 'e',
      userId: 'ben',
      text: '\u200b👍',
      at: 2,
    });
    expect(edit.notice).toMatch(/no words/);
    const opinions = await h.runtime.store.contributions.list(SCOPE, round.id, 'opinion', 0);
    expect(opinions.map((o) => [o.participantId, o.text])).toEqual([['ana', '4 👍']]);
    // Wordless replies cannot bring a round to its two opinions.
    await expect(service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR)).rejects.toThrow(
      /1 opinion;.*at least 2/,
    );
  });

  it('honours edits and deletions, and ignores replies outside the round thread and repeated events', async () => {
    const { round, thread } = await startRound(h);
    const base = { scope: SCOPE, channelId: CHANNEL, threadRootId: thread.messageId, at: 1 };
    const service = h.runtime.service;
    await service.reply({ ...base, messageId: 'm1', userId: 'ana', text: 'First.', eventId: 'E1' });
    expect(
      (
        await service.reply({
          ...base,
          messageId: 'm1',
          userId: 'ana',
          text: 'First.',
          eventId: 'E1',
        })
      ).status,
    ).toBe('duplicate');
    expect(
      (await service.reply({ ...base, messageId: 'm1', userId: 'ana', text: 'Edited.' })).status,
    ).toBe('edited');
    expect(
      (
        await service.reply({
          ...base,
          threadRootId: 'elsewhere',
          messageId: 'm9',
          userId: 'ana',
          text: 'Off topic',
        })
      ).status,
    ).toBe('ignored');
    await service.reply({ ...base, messageId: 'm2', userId: 'ben', text: 'Mine.' });
    expect(
      (
        await service.removeReply({
          scope: SCOPE,
          channelId: CHANNEL,
          threadRootId: thread.messageId,
          messageId: 'm2',
        })
      ).status,
    ).toBe('removed');
    const opinions = await h.runtime.store.contributions.list(SCOPE, round.id, 'opinion', 0);
    expect(opinions.map((o) => o.text)).toEqual(['Edited.']);
  });

  it('handles a redelivered event whose first delivery failed half-way, and only once', async () => {
    const { round, thread } = await startRound(h);
    const contributions = h.runtime.store.contributions;
    const original = contributions.upsert.bind(contributions);
    let failures = 1;
    contributions.upsert = async (...args) => {
      if (failures-- > 0) throw new Error('connection reset');
      return original(...args);
    };
    const event = {
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: 'm1',
      userId: 'ana',
      text: 'Mine.',
      at: 1,
      eventId: 'Ev-retry',
    };
    await expect(h.runtime.service.reply(event)).rejects.toThrow(/connection reset/);
    expect((await h.runtime.service.reply(event)).status).toBe('recorded');
    expect((await h.runtime.service.reply(event)).status).toBe('duplicate');
    expect((await contributions.list(SCOPE, round.id, 'opinion', 0)).map((o) => o.text)).toEqual([
      'Mine.',
    ]);
  });

  it('lets only moderators and the round starter close, critique, finish or cancel', async () => {
    const { round, thread } = await startRound(h);
    await addOpinions(thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await expect(h.runtime.service.close(target, MEMBER('ana'))).rejects.toMatchObject({
      code: 'forbidden',
    });
    await expect(h.runtime.service.cancel(target, MEMBER('ana'))).rejects.toMatchObject({
      code: 'forbidden',
    });
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('collecting');
    // The starter (here the moderator id) may; a plain member who started a round may close their own.
    const own = await h.runtime.service.start({
      scope: SCOPE,
      channelId: 'C2',
      actor: MEMBER('ben'),
      question: 'Lunch at noon?',
    });
    await expect(
      h.runtime.service.cancel({ scope: SCOPE, channelId: 'C2', roundId: own.id }, MEMBER('ben')),
    ).resolves.toMatchObject({ phase: 'cancelled' });
  });

  it('refuses a start or a whole-workspace export to members the adapter did not clear, whatever the adapter checked', async () => {
    const refusedStart = await refusal(
      h.runtime.service.start({
        scope: SCOPE,
        channelId: CHANNEL,
        actor: { userId: 'ana', moderator: false, mayStart: false },
        question: 'Lunch at noon?',
      }),
    );
    expect(refusedStart).toMatchObject({ code: 'forbidden' });
    expect(refusedStart.message).toBe('Only moderators may start a round in this workspace.');
    expect(await h.runtime.store.rounds.openInChannel(SCOPE, CHANNEL)).toEqual([]);
    await startRound(h);
    const refusedExport = await refusal(h.runtime.service.exportWorkspace(SCOPE, MEMBER('ana')));
    expect(refusedExport).toMatchObject({ code: 'forbidden' });
    expect(refusedExport.message).toMatch(/^Only moderators may export the whole workspace/);
    await expect(h.runtime.service.exportWorkspace(SCOPE, MODERATOR)).resolves.toHaveLength(1);
  });

  it('rejects an empty or over-long question with a clear message', async () => {
    const start = (question: string) =>
      h.runtime.service.start({ scope: SCOPE, channelId: CHANNEL, actor: MODERATOR, question });
    await expect(start('   ')).rejects.toThrow(/question is empty/);
    await expect(start('x'.repeat(501))).rejects.toThrow(/500 characters at most/);
    await expect(start('x'.repeat(500))).resolves.toMatchObject({ phase: 'collecting' });
  });

  it('closes a round at its deadline', async () => {
    let clock = Date.now();
    await h.stop();
    h = await startHarness({ now: () => clock });
    const { round, thread } = await startRound(h, 'Deadline question?', { minutes: 1 });
    await addOpinions(thread.messageId);
    // Move the deadline job forward instead of waiting a minute.
    const job = await h.runtime.queues.deadline.getJob(
      `deadline-console.W1-${round.id}-collecting-v0`,
    );
    expect(job).toBeTruthy();
    clock += 60_000;
    await job?.changeDelay(0);
    await h.platform.waitFor('statement', round.id);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('polling');
  });

  it('says so at the deadline when too few opinions came in, and clears the passed deadline', async () => {
    const { round, thread } = await startRound(h, 'Lonely question?', { minutes: 1 });
    await addOpinions(thread.messageId, ['ana']);
    const job = await h.runtime.queues.deadline.getJob(
      `deadline-console.W1-${round.id}-collecting-v0`,
    );
    await job?.changeDelay(0);
    const notice = await h.platform.waitFor('notice', round.id);
    // Said to the thread, where no member can close: what happened, and who moves it on.
    expect(notice.text).toContain(
      'Opinions were due by now, but the round has 1 opinion and needs at least 2 to find common ground. It stays open with no deadline: reply in this thread with your opinion; once there are enough, a moderator (or the member who started the round) can then run `/consensus close`, or `/consensus extend <minutes>` to set a new deadline.',
    );
    const after = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(after).toMatchObject({ phase: 'collecting', deadline: null });
  });

  it('says so at the critique deadline when no critique came in, and who can go on', async () => {
    const { round, thread } = await startRound(h, 'Lunch together on Fridays?', { minutes: 1 });
    await addOpinions(thread.messageId, ['ana', 'ben']);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await h.runtime.service.critique({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    const job = await h.runtime.queues.deadline.getJob(
      `deadline-console.W1-${round.id}-critiquing-v1`,
    );
    await job?.changeDelay(0);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(
      /Critiques were due by now, but none came in\. They stay open with no deadline/,
    );
    expect(notice.text).toContain('`/consensus finish` to end the round on the statement as it is');
    expect(await h.runtime.store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'critiquing',
      deadline: null,
    });
  });

  it('extends a phase: the deadline moves, the delayed job with it', async () => {
    let clock = Date.now();
    await h.stop();
    h = await startHarness({ now: () => clock });
    const { service, queues } = h.runtime;
    const { round } = await startRound(h, 'Extend me?', { minutes: 5 });
    const jobId = `deadline-console.W1-${round.id}-collecting-v0`;
    const first = await queues.deadline.getJob(jobId);
    expect(first?.opts.delay).toBe(5 * 60_000);
    clock += 60_000;
    const here = { scope: SCOPE, channelId: CHANNEL };
    await expect(service.extend(here, MEMBER('zed'), 30)).rejects.toThrow(/Only a moderator/);
    await expect(service.extend(here, MODERATOR, 0)).rejects.toThrow(/from 1 to/);
    const moved = await service.extend(here, MODERATOR, 30);
    expect(moved.deadline).toBe(clock + 30 * 60_000);
    const replaced = await queues.deadline.getJob(jobId);
    expect(replaced?.opts.delay).toBe(30 * 60_000);
    await service.cancel(here, MODERATOR);
    await expect(service.extend(here, MODERATOR, 10)).rejects.toThrow(/no open round/);
  });

  it('cancels the deadline when a round is closed early', async () => {
    const { round, thread } = await startRound(h, 'Early close?', { minutes: 5 });
    await addOpinions(thread.messageId);
    await h.runtime.service.close(
      { scope: SCOPE, channelId: CHANNEL, roundId: round.id },
      MODERATOR,
    );
    expect(
      await h.runtime.queues.deadline.getJob(`deadline-console.W1-${round.id}-collecting-v0`),
    ).toBeUndefined();
    await until(
      async () => (await h.runtime.store.rounds.require(SCOPE, round.id)).phase === 'polling',
    );
  });
});

describe('the progress message', () => {
  let h: Harness;
  afterEach(async () => {
    await h.stop();
  });

  it('counts the members whose approval could not be predicted', async () => {
    // A reward model that has nothing to say about one member (a failed judge call).
    const inner = new LexicalRewardModel();
    const rewardModel: RewardModel = {
      name: inner.name,
      async predict(input) {
        const result = await inner.predict(input);
        const dee = result.matrix.participants.indexOf('dee');
        return {
          ...result,
          matrix: {
            ...result.matrix,
            approvals: result.matrix.approvals.map((row) =>
              row.map((u, i) => (i === dee ? null : u)),
            ),
          },
        };
      },
    };
    h = await startHarness({ rewardModel });
    const { round, thread } = await startRound(h);
    await postOpinions(h, thread.messageId);
    await h.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await until(async () =>
      h.output.some((line) => line.includes('approval predicted for 3 of 4 members')),
    );
    expect(h.output.join('\n')).toMatch(/3 of 4 members \(lexical-tfidf\); 1 not predicted/);
  });
});
