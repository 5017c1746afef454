import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RoundSettings, RoundSettingsSchema } from '../../src/domain/round.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/** A round with every opinion in, closed, and its first statement up for rating. */
async function pollingRound(h: Harness, settings: Partial<RoundSettings>) {
  const { service } = h.runtime;
  const { round, thread } = await startRound(h, undefined, settings);
  let at = 1;
  for (const [id, text] of Object.entries(OPINIONS)) {
    await service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: `o-${id}`,
      userId: id,
      text,
      at: at++,
    });
  }
  const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
  await service.close(target, MODERATOR);
  const statement = await h.platform.waitFor('statement', round.id);
  const rate = (userId: string, optionKey: string, source: 'reaction' | 'button' = 'reaction') =>
    service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: statement.ref.messageId,
      userId,
      optionKey,
      at: at++,
      removed: false,
      source,
    });
  return { round, thread, target, statement, rate };
}

/** The first poll's deadline, run now rather than by the worker. */
function pollDeadline(h: Harness, roundId: string) {
  return h.runtime.service.onDeadline({ scope: SCOPE, roundId, phase: 'polling', version: 1 });
}

/** ana's critique of the statement, as a reply in the round's thread. */
function critiqueByAna(h: Harness, threadRootId: string) {
  return h.runtime.service.reply({
    scope: SCOPE,
    channelId: CHANNEL,
    threadRootId,
    messageId: 'k-ana',
    userId: 'ana',
    text: 'It forgets the customers who call on Fridays.',
    at: 100,
  });
}

describe('poll behaviour', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('--poll-minutes: the statement gets a deadline job that finishes the poll', async () => {
    const { round, rate } = await pollingRound(h, { pollMinutes: 5 });
    const { store, queues, service } = h.runtime;
    // The publisher opens the poll after posting: it sets the round's deadline, then
    // schedules the job (a few Redis calls later), so wait for the job, not the deadline.
    const jobs = await until(async () => {
      const delayed = await queues.deadline.getJobs(['delayed']);
      return delayed.length > 0 ? delayed : null;
    });
    const polling = await store.rounds.require(SCOPE, round.id);
    expect(polling.phase).toBe('polling');
    expect(polling.deadline).not.toBeNull();
    expect(jobs[0]?.opts.delay).toBeGreaterThan(4 * 60_000);
    expect(jobs.map((j) => j.data)).toEqual([
      { scope: SCOPE, roundId: round.id, phase: 'polling', version: 1, at: polling.deadline },
    ]);
    await rate('ana', 'agree');
    // What the deadline worker does when the delay is over.
    await service.onDeadline({ scope: SCOPE, roundId: round.id, phase: 'polling', version: 1 });
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('closed');
    const results = await h.platform.waitFor('results', round.id);
    expect(results.text).toContain('1 rating (4 members gave opinions)');
  });

  it('--poll-minutes: the statement says when its poll closes, and a reminder how long is left', async () => {
    const { round } = await pollingRound(h, { pollMinutes: 120, remindMinutes: 60 });
    const { service, store } = h.runtime;
    const polling = await until(async () => {
      const r = await store.rounds.require(SCOPE, round.id);
      return r.deadline === null ? null : r;
    });
    expect((await service.statementView(polling, 1)).pollCloses).toBe(
      'The poll closes 2 hours after this post.',
    );
    // The reminder job runs now: the poll has about its two hours left, said in hours.
    await service.onDeadline({
      scope: SCOPE,
      roundId: round.id,
      phase: 'polling',
      version: 1,
      kind: 'reminder',
    });
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(
      /React on it before the poll closes in 2 hours: the results count only the ratings given\.$/,
    );
    // A round without --poll-minutes closes when a moderator says: nothing to say.
    const { round: open } = await pollingRound(h, {});
    const view = await service.statementView(await store.rounds.require(SCOPE, open.id), 1);
    expect(view.pollCloses).toBeUndefined();
  });

  it('--remind-minutes: a delayed reminder names who gave an opinion but has not rated', async () => {
    const { round, target, rate } = await pollingRound(h, { remindMinutes: 10 });
    const { queues, service } = h.runtime;
    const job = await until(async () =>
      (await queues.deadline.getJobs(['delayed'])).find((j) => j.name === 'reminder'),
    );
    expect(job.data).toEqual({
      scope: SCOPE,
      roundId: round.id,
      phase: 'polling',
      version: 1,
      kind: 'reminder',
    });
    expect(job.opts.delay).toBe(10 * 60_000);
    await rate('ana', 'agree');
    await rate('cai', 'unsure');
    // What the deadline worker does when the delay is over.
    await service.onDeadline(job.data);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toContain('Reminder: <@ben>, <@dee>, you gave an opinion');
    expect(notice.text).not.toMatch(/<@(ana|cai)>/);
    // After the finish a late reminder says nothing.
    await service.finish(target, MODERATOR);
    await service.onDeadline({ ...job.data, phase: 'polling' });
    await h.platform.waitFor('results', round.id);
    expect(h.platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);
  });

  it('removes the poll reminder and deadline once the round is finished, critiqued or cancelled', async () => {
    const pending = async (roundId: string) =>
      (await h.runtime.queues.deadline.getJobs(['delayed']))
        .filter((j) => j.data.roundId === roundId)
        .map((j) => j.name)
        .sort();
    for (const end of ['finish', 'critique', 'cancel'] as const) {
      const { round, target } = await pollingRound(h, { remindMinutes: 10, pollMinutes: 30 });
      await until(async () => ((await pending(round.id)).length === 2 ? true : null));
      expect(await pending(round.id)).toEqual(['deadline', 'reminder']);
      await h.runtime.service[end](target, MODERATOR);
      expect(await pending(round.id)).toEqual([]);
    }
  });

  it('--revise-below: a first poll under the threshold goes to critique at its deadline', async () => {
    const { round, rate } = await pollingRound(h, { pollMinutes: 5, reviseBelow: 60 });
    await until(async () => (await h.runtime.store.rounds.require(SCOPE, round.id)).deadline);
    await rate('ana', 'agree');
    await rate('ben', 'disagree');
    await rate('cai', 'disagree'); // mean 33% < 60%
    await pollDeadline(h, round.id);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('critiquing');
    await h.platform.waitFor('critique-invite', round.id);
    expect(h.platform.posted.some((m) => m.kind === 'results')).toBe(false);
  });

  it('--revise-below through the deadline worker: the critique round gets its own deadline', async () => {
    const { round, rate } = await pollingRound(h, {
      minutes: 10,
      pollMinutes: 5,
      reviseBelow: 60,
    });
    const { queues, store } = h.runtime;
    const pollDeadline = await until(() =>
      queues.deadline.getJob(`deadline-console.W1-${round.id}-polling-v1`),
    );
    await rate('ana', 'agree');
    await rate('ben', 'disagree');
    // The poll's deadline fires now (the real worker runs it), instead of in five minutes.
    await pollDeadline.changeDelay(0);
    await until(async () => (await store.rounds.require(SCOPE, round.id)).phase === 'critiquing');
    // Scheduled from inside the running poll deadline: it must exist, delayed ten minutes.
    const critiqueDeadline = await until(() =>
      queues.deadline.getJob(`deadline-console.W1-${round.id}-critiquing-v1`),
    );
    expect(await critiqueDeadline.isDelayed()).toBe(true);
    expect(critiqueDeadline.opts.delay).toBeGreaterThan(9 * 60_000);
  });

  it('a deadline that finds the round moved on meanwhile neither finishes it nor says anything', async () => {
    const { round, target, rate } = await pollingRound(h, { pollMinutes: 5, reviseBelow: 50 });
    await until(async () => (await h.runtime.store.rounds.require(SCOPE, round.id)).deadline);
    await rate('ana', 'agree'); // 100%: the deadline decides to finish
    const { polls } = h.runtime.store;
    const poll = polls.poll.bind(polls);
    // Between the deadline's look at the round and its move, a moderator starts a critique.
    polls.poll = async (...args) => {
      polls.poll = poll;
      await h.runtime.service.critique(target, MODERATOR);
      return poll(...args);
    };
    await pollDeadline(h, round.id);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('critiquing');
    await h.platform.waitFor('critique-invite', round.id);
    expect(h.platform.posted.filter((m) => m.kind === 'results' || m.kind === 'notice')).toEqual(
      [],
    );
  });

  it('--revise-below at the deadline: a revised poll that also scores low finishes, not another critique', async () => {
    const { round, thread, target, rate } = await pollingRound(h, {
      pollMinutes: 5,
      reviseBelow: 60,
    });
    const { service, store } = h.runtime;
    await until(async () => (await store.rounds.require(SCOPE, round.id)).deadline);
    for (const id of Object.keys(OPINIONS)) await rate(id, 'disagree');
    await pollDeadline(h, round.id);
    expect((await store.rounds.require(SCOPE, round.id)).phase).toBe('critiquing');
    await critiqueByAna(h, thread.messageId);
    await service.close(target, MODERATOR);
    const second = await until(
      () => h.platform.posted.filter((m) => m.kind === 'statement' && m.roundId === round.id)[1],
    );
    await until(async () => {
      const r = await store.rounds.require(SCOPE, round.id);
      return r.version === 2 && r.phase === 'polling' && r.deadline !== null;
    });
    for (const id of Object.keys(OPINIONS)) {
      await service.react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: second.ref.messageId,
        userId: id,
        optionKey: 'disagree',
        at: 200,
        removed: false,
      });
    }
    // The threshold is for the first poll only: v2's deadline finishes the round, or the
    // bot would send it through critique after critique on its own.
    await service.onDeadline({ scope: SCOPE, roundId: round.id, phase: 'polling', version: 2 });
    const now = await store.rounds.require(SCOPE, round.id);
    expect([now.phase, now.version]).toEqual(['closed', 2]);
  });

  it('a critique the bot decided on is refused once a moderator extended the poll, or it moved on', async () => {
    const { round, thread, target } = await pollingRound(h, { pollMinutes: 5 });
    const { service, store } = h.runtime;
    const seen = await until(async () => (await store.rounds.require(SCOPE, round.id)).deadline);
    // The bot decided (a deadline or the last rating) on the poll as it was; the moderator
    // then gave it 30 more minutes, which the bot's critique must not cut short.
    const extended = await service.extend(target, MODERATOR, 30);
    expect(extended.deadline).not.toBe(seen);
    await expect(
      service.critique(target, null, { phase: 'polling', version: 1, deadline: seen }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 1,
      deadline: extended.deadline,
    });

    // A decision about v1 does not apply to the v2 poll that replaced it.
    await service.critique(target, MODERATOR);
    await critiqueByAna(h, thread.messageId);
    await service.close(target, MODERATOR);
    await until(async () => (await store.rounds.require(SCOPE, round.id)).phase === 'polling');
    await expect(
      service.critique(target, null, { phase: 'polling', version: 1 }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(await store.rounds.require(SCOPE, round.id)).toMatchObject({
      phase: 'polling',
      version: 2,
    });
  });

  it('refuses to extend a finished or generating round, and writes no deadline into it', async () => {
    const { service, store } = h.runtime;
    const message = /only collecting opinions or critiques, or a poll, can be extended/;
    const { round, target } = await pollingRound(h, {});
    await service.finish(target, MODERATOR);
    await expect(service.extend(target, MODERATOR, 30)).rejects.toMatchObject({
      code: 'illegal_transition',
      message: expect.stringMatching(message),
    });
    expect((await store.rounds.require(SCOPE, round.id)).deadline).toBeNull();

    // A round whose statement is being written has no timed phase to extend either.
    const { round: next } = await startRound(h);
    await store.rounds.update(SCOPE, next.id, (r) => ({ ...r, phase: 'generating' }));
    const nextTarget = { scope: SCOPE, channelId: CHANNEL, roundId: next.id };
    await expect(service.extend(nextTarget, MODERATOR, 30)).rejects.toMatchObject({
      code: 'illegal_transition',
      message: expect.stringMatching(message),
    });
    expect((await store.rounds.require(SCOPE, next.id)).deadline).toBeNull();
  });

  it('--poll-minutes: opening the poll again (a retried statement job) keeps its deadline', async () => {
    const { round } = await pollingRound(h, { pollMinutes: 5 });
    const { service, store, queues } = h.runtime;
    const jobId = `deadline-console.W1-${round.id}-polling-v1`;
    await until(() => queues.deadline.getJob(jobId));
    const first = (await store.rounds.require(SCOPE, round.id)).deadline;
    expect(first).not.toBeNull();
    // Time passes before the retry: counting five minutes from it would keep the poll
    // open longer than the statement announced.
    await new Promise((r) => setTimeout(r, 20));
    await service.openPoll(SCOPE, round.id, 1);
    expect((await store.rounds.require(SCOPE, round.id)).deadline).toBe(first);
    expect((await queues.deadline.getJob(jobId))?.data.at).toBe(first);
  });

  it('--revise-below: a first poll at or over the threshold finishes as usual', async () => {
    const { round, rate } = await pollingRound(h, { pollMinutes: 5, reviseBelow: 50 });
    await until(async () => (await h.runtime.store.rounds.require(SCOPE, round.id)).deadline);
    await rate('ana', 'agree');
    await rate('ben', 'unsure'); // mean 75%
    await pollDeadline(h, round.id);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('closed');
  });

  it('--hidden: results show only the count of ratings until the finish', async () => {
    const { round, target, rate } = await pollingRound(h, { hidden: true });
    const { service } = h.runtime;
    // Reactions would show the running tally under the statement: a hidden poll is buttons.
    expect((await service.statementView(round, 1)).buttons).toBe(true);
    expect((await rate('cai', 'agree')).status).toBe('ignored');
    await rate('ana', 'agree', 'button');
    await rate('ben', 'disagree', 'button');
    const before = await service.results(target);
    expect(before.hidden).toBe(true);
    const v1 = before.versions[0];
    expect(v1?.results.ratingCount).toBe(2);
    expect(v1?.results.distribution.map((d) => d.count)).toEqual([0, 0, 0]);
    expect(v1?.results).toMatchObject({
      meanApproval: null,
      welfareValue: null,
      leastServed: null,
      meanAbsoluteError: null,
    });
    // Nor can the export (anyone may run it) show them early.
    expect((await service.export(target)).versions[0]?.ratings).toEqual([]);
    const after = await service.finish(target, MODERATOR);
    // Hidden is not anonymous: once finished, the ratings are the members' own.
    expect((await service.export(target)).versions[0]?.ratings.map((r) => r.participantId)).toEqual(
      ['ana', 'ben'],
    );
    expect(after.hidden).toBe(false);
    expect(after.versions[0]?.results.distribution.map((d) => d.count)).toEqual([1, 0, 1]);
  });

  it('--min-turnout: results say "not enough ratings" below it and "endorsed" at it', async () => {
    const { round, target, rate } = await pollingRound(h, { minTurnout: 3 });
    const { service } = h.runtime;
    await rate('ana', 'agree');
    expect((await service.results(target)).versions[0]?.endorsement).toBe('not enough ratings');
    await rate('ben', 'agree');
    await rate('cai', 'unsure');
    const finished = await service.finish(target, MODERATOR);
    expect(finished.versions[0]?.endorsement).toBe('endorsed');
    const results = await h.platform.waitFor('results', round.id);
    expect(results.text).toContain('verdict: endorsed');
  });

  it('--min-turnout: a likert7 mean of exactly 50% is endorsed, one rating short is not enough', async () => {
    // 4/7, 5/7 and 3/7 are approvals 1/2, 2/3 and 1/3: a mean of exactly 50%, which floating
    // point sums to 0.49999999999999994.
    const { round, target, rate } = await pollingRound(h, { minTurnout: 3, scale: 'likert7' });
    const { service } = h.runtime;
    await rate('ana', '4');
    await rate('ben', '5');
    expect((await service.results(target)).versions[0]?.endorsement).toBe('not enough ratings');
    await rate('cai', '3');
    const finished = await service.finish(target, MODERATOR);
    expect(finished.versions[0]?.endorsement).toBe('endorsed');
    const results = await h.platform.waitFor('results', round.id);
    expect(results.text).toContain('verdict: endorsed');
  });

  it('--anonymous: only buttons rate, under a pseudonym; reminders and results name nobody', async () => {
    const { round, target, statement } = await pollingRound(h, {
      anonymous: true,
      remindMinutes: 5,
    });
    const { service, store } = h.runtime;
    const rate = (userId: string, optionKey: string, source?: 'button' | 'reaction') =>
      service.react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: statement.ref.messageId,
        userId,
        optionKey,
        at: Date.now(),
        removed: false,
        source,
      });
    expect(await rate('ana', 'agree')).toMatchObject({ status: 'ignored' }); // a reaction
    expect(await rate('ana', 'agree', 'button')).toMatchObject({ status: 'recorded' });
    expect(await rate('ana', 'disagree', 'button')).toMatchObject({ status: 'recorded' });
    const poll = await store.polls.poll(SCOPE, round.id, 1);
    const ratings = await store.polls.ratings(SCOPE, poll!);
    expect(ratings.map((r) => r.optionKey)).toEqual(['disagree']);
    expect(ratings[0]?.participantId).toMatch(/^anon-/);
    expect(ratings[0]?.participantId).not.toContain('ana');

    await service.onDeadline({
      scope: SCOPE,
      roundId: round.id,
      phase: 'polling',
      version: 1,
      kind: 'reminder',
    });
    const notice = await h.platform.waitFor('notice', round.id);
    // ana rated; the other three are counted, not named.
    expect(notice.text).toContain('Reminder: 3 members who gave an opinion have not rated');
    expect(notice.text).not.toMatch(/ana|ben|cai|dee/);

    const results = await service.finish(target, MODERATOR);
    expect(results.anonymous).toBe(true);
    expect(JSON.stringify(results)).not.toMatch(/"(ana|ben|cai|dee|mod)"|anon-/);
    const posted = await h.platform.waitFor('results', round.id);
    expect(posted.text).not.toMatch(/\b(ana|ben|cai|dee)\b/);
  });

  it('a later click wins even when the clicks are handled in the other order', async () => {
    const { statement } = await pollingRound(h, { anonymous: true });
    const click = (optionKey: string, at: number) =>
      h.runtime.service.react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: statement.ref.messageId,
        userId: 'ana',
        optionKey,
        at,
        removed: false,
        source: 'button',
      });
    // ana clicked agree at t=1000, then disagree at t=2000; the handlers ran the other way.
    await click('disagree', 2_000);
    await click('agree', 1_000);
    const poll = await h.runtime.store.polls.poll(SCOPE, statement.roundId, 1);
    const ratings = await h.runtime.store.polls.ratings(SCOPE, poll!);
    expect(ratings.map((r) => r.optionKey)).toEqual(['disagree']);
  });

  it('buttons are no rating in a round that is not anonymous', async () => {
    const { statement } = await pollingRound(h, {});
    const outcome = await h.runtime.service.react({
      scope: SCOPE,
      channelId: CHANNEL,
      messageId: statement.ref.messageId,
      userId: 'ana',
      optionKey: 'agree',
      at: 1,
      removed: false,
      source: 'button',
    });
    expect(outcome.status).toBe('ignored');
  });

  it("an option from another poll's scale is no rating", async () => {
    const { round, rate } = await pollingRound(h, {});
    const { store } = h.runtime;
    // :three: maps to a likert7 option; this poll is agree / unsure / disagree.
    expect(await rate('ana', '3')).toEqual({ status: 'ignored', roundId: round.id });
    expect(await rate('ben', 'strongly agree')).toEqual({ status: 'ignored', roundId: round.id });
    expect((await rate('cai', 'agree')).status).toBe('recorded');
    const poll = await store.polls.poll(SCOPE, round.id, 1);
    const ratings = await store.polls.ratings(SCOPE, poll!);
    expect(ratings.map((r) => [r.participantId, r.optionKey])).toEqual([['cai', 'agree']]);
  });

  it("a likert7 poll takes none of approval3's options", async () => {
    const { round, rate } = await pollingRound(h, { scale: 'likert7' });
    const { store } = h.runtime;
    expect(await rate('ana', 'agree')).toEqual({ status: 'ignored', roundId: round.id });
    expect((await rate('ben', '6')).status).toBe('recorded');
    const poll = await store.polls.poll(SCOPE, round.id, 1);
    const ratings = await store.polls.ratings(SCOPE, poll!);
    expect(ratings.map((r) => [r.participantId, r.optionKey])).toEqual([['ben', '6']]);
  });

  describe('--revise-below once every member who gave an opinion has rated', () => {
    const phaseOf = async (roundId: string) =>
      (await h.runtime.store.rounds.require(SCOPE, roundId)).phase;

    it('goes to critique at the last of them, without --poll-minutes; others do not count', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 60 });
      await rate('ana', 'agree');
      await rate('ben', 'disagree');
      await rate('cai', 'disagree');
      // Someone who gave no opinion: their rating counts in the mean, not in who is missing.
      expect((await rate('zed', 'disagree')).status).toBe('recorded');
      expect(await phaseOf(round.id)).toBe('polling');
      expect(await rate('dee', 'disagree')).toEqual({ status: 'recorded', roundId: round.id });
      expect(await phaseOf(round.id)).toBe('critiquing');
      await h.platform.waitFor('critique-invite', round.id);
      expect(h.platform.posted.some((m) => m.kind === 'results')).toBe(false);
    });

    it('also at a deadline `extend` gave a poll that had none, before everyone rated', async () => {
      const { round, target, rate } = await pollingRound(h, { reviseBelow: 60 });
      await rate('ana', 'disagree');
      await h.runtime.service.extend(target, MODERATOR, 5);
      expect(await phaseOf(round.id)).toBe('polling');
      await pollDeadline(h, round.id);
      expect(await phaseOf(round.id)).toBe('critiquing');
      expect(h.platform.posted.some((m) => m.kind === 'results')).toBe(false);
    });

    it('leaves it to the deadline when the round has --poll-minutes', async () => {
      const { round, rate } = await pollingRound(h, { pollMinutes: 5, reviseBelow: 60 });
      for (const id of Object.keys(OPINIONS)) await rate(id, 'disagree');
      expect(await phaseOf(round.id)).toBe('polling');
    });

    it('checks it once, at the rating that completes the turnout, not at later changes', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 60 });
      for (const id of Object.keys(OPINIONS)) await rate(id, 'agree'); // complete: 100%
      for (const id of Object.keys(OPINIONS)) await rate(id, 'disagree'); // now 0%
      expect(await phaseOf(round.id)).toBe('polling');
      expect(h.platform.posted.some((m) => m.kind === 'critique-invite')).toBe(false);
    });

    it('leaves a poll at or over the threshold open', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 50 });
      for (const id of ['ana', 'ben']) await rate(id, 'agree');
      for (const id of ['cai', 'dee']) await rate(id, 'disagree'); // mean 50%
      expect(await phaseOf(round.id)).toBe('polling');
    });

    it('leaves a likert7 poll whose mean is exactly the threshold open', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 50, scale: 'likert7' });
      // Approvals 1/2, 2/3, 1/3, 1/2: exactly 50%, summed in floating point to just under.
      for (const [id, key] of [
        ['ana', '4'],
        ['ben', '5'],
        ['cai', '3'],
        ['dee', '4'],
      ] as const) {
        await rate(id, key);
      }
      expect(await phaseOf(round.id)).toBe('polling');
    });

    it('at the deadline too, a likert7 mean of exactly the threshold finishes the poll', async () => {
      const { round, rate } = await pollingRound(h, {
        pollMinutes: 5,
        reviseBelow: 50,
        scale: 'likert7',
      });
      await until(async () => (await h.runtime.store.rounds.require(SCOPE, round.id)).deadline);
      await rate('ana', '4');
      await rate('ben', '5');
      await rate('cai', '3');
      await pollDeadline(h, round.id);
      expect(await phaseOf(round.id)).toBe('closed');
    });

    it('matches an anonymous round’s raters by their pseudonyms', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 60, anonymous: true });
      for (const id of Object.keys(OPINIONS)) await rate(id, 'disagree', 'button');
      expect(await phaseOf(round.id)).toBe('critiquing');
    });

    it('starts one critique when the last two ratings race', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 60 });
      await rate('ana', 'disagree');
      await rate('ben', 'disagree');
      const last = await Promise.all([rate('cai', 'disagree'), rate('dee', 'disagree')]);
      expect(last.map((o) => o.status)).toEqual(['recorded', 'recorded']);
      expect(await phaseOf(round.id)).toBe('critiquing');
      await h.platform.waitFor('critique-invite', round.id);
      expect(h.platform.posted.filter((m) => m.kind === 'critique-invite')).toHaveLength(1);
      // The loser of the race found the round moved on, which is no failure to report.
      expect(h.log.lines.filter((l) => l.level === 'warn')).toEqual([]);
    });

    it('keeps the rating when the check after it fails, and says so in the log', async () => {
      const { round, rate } = await pollingRound(h, { reviseBelow: 60 });
      for (const id of ['ana', 'ben', 'cai']) await rate(id, 'disagree');
      const { polls } = h.runtime.store;
      const entries = polls.reactionEntries.bind(polls);
      polls.reactionEntries = () => Promise.reject(new Error('Connection is closed.'));
      try {
        expect(await rate('dee', 'disagree')).toEqual({ status: 'recorded', roundId: round.id });
      } finally {
        polls.reactionEntries = entries;
      }
      const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
      expect(
        (await h.runtime.store.polls.ratings(SCOPE, poll!)).map((r) => r.participantId),
      ).toContain('dee');
      expect(await phaseOf(round.id)).toBe('polling');
      expect(h.log.lines).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          message: 'revise-below check after a rating failed',
        }),
      );
    });

    it('is checked on the first poll only, so a round never loops on its own', async () => {
      const { round, thread, target, rate } = await pollingRound(h, { reviseBelow: 60 });
      for (const id of Object.keys(OPINIONS)) await rate(id, 'disagree');
      await h.platform.waitFor('critique-invite', round.id);
      await h.runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId: 'k-ana',
        userId: 'ana',
        text: 'It forgets the customers who call on Fridays.',
        at: 100,
      });
      await h.runtime.service.close(target, MODERATOR);
      const second = await until(
        () => h.platform.posted.filter((m) => m.kind === 'statement' && m.roundId === round.id)[1],
      );
      for (const id of Object.keys(OPINIONS)) {
        await h.runtime.service.react({
          scope: SCOPE,
          channelId: CHANNEL,
          messageId: second.ref.messageId,
          userId: id,
          optionKey: 'disagree',
          at: 200,
          removed: false,
          source: 'reaction',
        });
      }
      const now = await h.runtime.store.rounds.require(SCOPE, round.id);
      expect([now.phase, now.version]).toEqual(['polling', 2]);
    });
  });

  it('stored rounds from before these settings still parse, with the defaults', () => {
    const old = { candidates: 4, minutes: null, welfare: 'egalitarian', scale: 'approval3' };
    expect(RoundSettingsSchema.parse(old)).toEqual({
      ...old,
      pollMinutes: null,
      remindMinutes: null,
      anonymous: false,
      hidden: false,
      minTurnout: 0,
      reviseBelow: null,
    });
  });
});
