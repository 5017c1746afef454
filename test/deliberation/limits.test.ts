import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeliberationService } from '../../src/deliberation/service.js';
import { type CommandLimits, DEFAULT_COMMAND_LIMITS, LIMITS } from '../../src/domain/limits.js';
import { TRUNCATION_NOTE } from '../../src/domain/opinion.js';
import type { Scope } from '../../src/domain/scope.js';
import { createStore } from '../../src/store/store.js';
import {
  CHANNEL,
  type Harness,
  MEMBER,
  MODERATOR,
  SCOPE,
  startHarness,
  startRound,
} from '../support/harness.js';
import { refusal } from '../support/refusal.js';

/**
 * The harness's store and queues behind a service with these start limits and this clock,
 * which stands in for Redis's in the rate windows too.
 */
function limited(h: Harness, starts: StartLimits, now: () => number) {
  let n = 0;
  return new DeliberationService({
    store: createStore(h.redis, h.prefix, now),
    queues: h.runtime.queues,
    log: h.log,
    now,
    newId: () => `lim${++n}`,
    newSeed: () => 1,
    limits: { ...DEFAULT_COMMAND_LIMITS, ...starts },
  });
}

type StartLimits = Pick<
  CommandLimits,
  'startsPerMemberPerHour' | 'startsPerWorkspacePerHour' | 'openRoundsPerChannel'
>;

describe('limits on starting rounds and on text sizes', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  const start = (
    service: DeliberationService,
    userId: string,
    channelId = CHANNEL,
    scope: Scope = SCOPE,
  ) => service.start({ scope, channelId, actor: MEMBER(userId), question: 'Lunch at noon?' });

  it('refuses a member past their starts in any hour, says when to retry, and lets them start an hour on', async () => {
    const first = 3_600_000 * 500_000 + 15 * 60_000;
    let clock = first;
    const service = limited(
      h,
      { startsPerMemberPerHour: 2, startsPerWorkspacePerHour: 0, openRoundsPerChannel: 0 },
      () => clock,
    );
    await start(service, 'ana');
    clock += 15 * 60_000;
    await start(service, 'ana');
    const error = await refusal(start(service, 'ana'));
    expect(error.code).toBe('rate_limited');
    // The first start leaves the hour 45 minutes from now.
    expect(error.message).toBe(
      'You have started 2 rounds in the past hour, the most allowed; try again in 45 minutes.',
    );
    // Another member is not affected.
    await start(service, 'ben');
    clock = first + 60 * 60_000;
    await start(service, 'ana');
  });

  it('gives no second allowance at the top of the clock hour (no 2 x 60 starts in two seconds)', async () => {
    const topOfHour = 3_600_000 * 500_000;
    let clock = topOfHour - 1_000;
    const service = limited(
      h,
      { startsPerMemberPerHour: 3, startsPerWorkspacePerHour: 0, openRoundsPerChannel: 0 },
      () => clock,
    );
    for (const channel of ['C1', 'C2', 'C3']) await start(service, 'ana', channel);
    clock = topOfHour + 1_000;
    const error = await refusal(start(service, 'ana', 'C4'));
    expect(error.code).toBe('rate_limited');
    expect(error.message).toMatch(/try again in 60 minutes\.$/);
  });

  it('refuses a workspace past its hourly starts, whoever asks, and not another workspace', async () => {
    const clock = 3_600_000 * 500_000 + 59 * 60_000 + 30_000;
    const service = limited(
      h,
      { startsPerMemberPerHour: 0, startsPerWorkspacePerHour: 3, openRoundsPerChannel: 0 },
      () => clock,
    );
    for (const who of ['ana', 'ben', 'cai']) await start(service, who);
    const error = await refusal(start(service, 'dee'));
    expect(error.code).toBe('rate_limited');
    expect(error.message).toBe(
      'This workspace has started 3 rounds in the past hour, the most allowed; try again in 60 minutes.',
    );
    await start(service, 'dee', CHANNEL, { platform: 'console', workspaceId: 'W2' });
  });

  it('caps the open rounds of a channel; finishing or cancelling one makes room', async () => {
    const service = limited(
      h,
      { startsPerMemberPerHour: 0, startsPerWorkspacePerHour: 0, openRoundsPerChannel: 2 },
      Date.now,
    );
    const first = await start(service, 'ana');
    await start(service, 'ben');
    const error = await refusal(start(service, 'cai'));
    expect(error.code).toBe('limit_reached');
    expect(error.message).toMatch(/already has 2 open rounds/);
    // Other channels are counted apart.
    await start(service, 'cai', 'C2');
    await service.cancel({ scope: SCOPE, channelId: CHANNEL, roundId: first.id }, MODERATOR);
    await start(service, 'cai');
  });

  it('does not count an invalid command against the member', async () => {
    const service = limited(
      h,
      { startsPerMemberPerHour: 1, startsPerWorkspacePerHour: 1, openRoundsPerChannel: 0 },
      Date.now,
    );
    const invalid = await refusal(
      service.start({ scope: SCOPE, channelId: CHANNEL, actor: MEMBER('ana'), question: ' ' }),
    );
    expect(invalid.code).toBe('invalid_input');
    await start(service, 'ana');
  });

  it('applies the configured defaults through the runtime', async () => {
    // createRuntime passes LIMIT_* and MAX_OPEN_ROUNDS_PER_CHANNEL (defaults 60/300/20).
    for (let i = 0; i < 20; i++) await start(h.runtime.service, `m${i}`);
    const error = await refusal(start(h.runtime.service, 'm20'));
    expect(error.code).toBe('limit_reached');
  });

  it('keeps one reply to a bounded size and still tells the member how long it was', async () => {
    const { round, thread } = await startRound(h);
    const outcome = await h.runtime.service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: 'huge',
      userId: 'ana',
      text: 'word '.repeat(100_000),
      at: 1,
    });
    expect(outcome.notice).toBe(
      `Your opinion is ${'word '.repeat(100_000).trim().length} characters; only the first ${LIMITS.opinionMaxChars} are used.`,
    );
    const stored = await h.redis.hget(`${h.prefix}:console.W1:round:${round.id}:opinion:0`, 'huge');
    expect(stored?.length).toBeLessThan(LIMITS.replyMaxChars + 200);
  });

  it('keeps an opinion of exactly the limit whole and silent, and cuts one character more with a notice', async () => {
    const { round, thread } = await startRound(h);
    const max = LIMITS.opinionMaxChars;
    const reply = (userId: string, text: string) =>
      h.runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId: `m-${userId}`,
        userId,
        text,
        at: 1,
      });
    const atLimit = await reply('ana', 'a'.repeat(max));
    expect(atLimit).toMatchObject({ status: 'recorded', notice: null });
    const over = await reply('ben', 'b'.repeat(max + 1));
    expect(over).toMatchObject({
      status: 'recorded',
      notice: `Your opinion is ${max + 1} characters; only the first ${max} are used.`,
    });
    const opinions = await h.runtime.store.contributions.list(SCOPE, round.id, 'opinion', 0);
    const of = (id: string) => opinions.find((o) => o.participantId === id);
    expect(of('ana')).toMatchObject({ text: 'a'.repeat(max), truncated: false });
    expect(of('ben')).toMatchObject({ truncated: true, originalLength: max + 1 });
    expect(of('ben')?.text.length).toBeLessThanOrEqual(max);
  });

  it('counts at most repliesPerMember replies of one member, says so, and frees a place when one goes', async () => {
    const { round, thread } = await startRound(h);
    const reply = (userId: string, messageId: string, text: string, at: number) =>
      h.runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId,
        userId,
        text,
        at,
      });
    const max = LIMITS.repliesPerMember;
    for (let i = 0; i < max; i++) {
      expect((await reply('ana', `a${i}`, `point ${i}`, i + 1)).status).toBe('recorded');
    }
    const refused = await reply('ana', 'over', 'one point too many', 1_000);
    expect(refused.status).toBe('ignored');
    expect(refused.notice).toBe(
      `This reply was not counted: ${max} of your replies already make up your opinion, the most one member's can have. Edit one of them to change what it says.`,
    );
    // Another member is not held back, and ana's earlier replies are all there, the refused one not.
    expect((await reply('ben', 'b0', 'my own view', 2_000)).status).toBe('recorded');
    const ana = await h.runtime.store.contributions.get(SCOPE, round.id, 'opinion', 0, 'ana');
    expect(ana?.text.split('\n')).toHaveLength(max);
    expect(ana?.text).not.toContain('too many');
    // Edits still land; a reply deleted, or edited to nothing, makes room for a new one.
    expect((await reply('ana', 'a0', 'point zero, revised', 1)).status).toBe('edited');
    await h.runtime.service.removeReply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: 'a1',
    });
    expect((await reply('ana', 'new1', 'a new point', 4_000)).status).toBe('recorded');
    expect((await reply('ana', 'a2', '', 3)).status).toBe('removed');
    expect((await reply('ana', 'new2', 'another new point', 4_002)).status).toBe('recorded');
    expect((await reply('ana', 'new3', 'and one more', 4_003)).status).toBe('ignored');
    // The emptied reply, edited back, is a new reply again: the set is full.
    expect((await reply('ana', 'a2', 'point two again', 3)).status).toBe('ignored');
    const after = await h.runtime.store.contributions.get(SCOPE, round.id, 'opinion', 0, 'ana');
    expect(after?.text.split('\n')).toHaveLength(max);
    expect(after?.text).toContain('another new point');
    // The member's list of message ids holds only the replies that count.
    const ids = await h.redis.hget(
      `${h.prefix}:console.W1:round:${round.id}:opinion:0:by-member`,
      'ana',
    );
    expect(ids?.split('\n')).toHaveLength(max);
  });

  it('cuts an over-long opinion between characters, never inside an emoji', async () => {
    const { round, thread } = await startRound(h);
    // The 4,000-character cut (less the truncation note) falls inside the first 🌍.
    const end = LIMITS.opinionMaxChars - TRUNCATION_NOTE.length;
    const text = `${'a'.repeat(end - 1)}${'🌍'.repeat(200)}`;
    await h.runtime.service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: 'long',
      userId: 'ana',
      text,
      at: 1,
    });
    const [opinion] = await h.runtime.store.contributions.list(SCOPE, round.id, 'opinion', 0);
    expect(opinion?.truncated).toBe(true);
    expect(opinion?.text).toBe(`${'a'.repeat(end - 1)}${TRUNCATION_NOTE}`);
  });
});
