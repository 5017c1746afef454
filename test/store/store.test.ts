import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.js';
import { assertTransition } from '../../src/domain/phase.js';
import type { Poll } from '../../src/domain/rating.js';
import type { Round } from '../../src/domain/round.js';
import type { Scope } from '../../src/domain/scope.js';
import { Keys } from '../../src/store/keys.js';
import { createStore, type Store } from '../../src/store/store.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { storedRound } from '../support/rounds.js';

const slack: Scope = { platform: 'slack', workspaceId: 'T1' };
const discord: Scope = { platform: 'discord', workspaceId: 'T1' };

/** The whole-matrix hashes' field separator (src/store/ratings-matrix.ts). */
const SEP = '\u001f';

function round(id: string, scope: Scope = slack): Round {
  return storedRound({ id, scope });
}

/** Version 1's poll of a round, open. */
function openPoll(roundId: string): Poll {
  return {
    roundId,
    version: 1,
    candidateId: 'c1',
    statement: 'We agree.',
    scale: 'approval3',
    openedAt: 0,
    closedAt: null,
    predicted: {},
    welfare: null,
    method: 'test',
  };
}

describe('store', () => {
  const env = testRedis();
  let redis: Redis;
  let store: Store;

  beforeAll(() => {
    redis = env.connect();
    store = createStore(redis, env.prefix);
  });
  afterAll(async () => {
    await deletePrefix(redis, env.prefix);
    await redis.quit();
  });

  /** One closed poll with one rating, and the rater's opinion when given. */
  const onePoll = (
    scope: Scope,
    poll: {
      roundId: string;
      version?: number;
      at: number;
      member: string;
      approval?: number;
      opinion?: string;
    },
  ) =>
    store.ratingsMatrix.recordPoll(scope, {
      roundId: poll.roundId,
      version: poll.version ?? 1,
      question: 'Q',
      statement: `${poll.roundId} v${poll.version ?? 1}`,
      openedAt: poll.at,
      ratings: [
        {
          participantId: poll.member,
          optionKey: poll.approval === 0 ? 'disagree' : 'agree',
          approval: poll.approval ?? 1,
          at: poll.at,
        },
      ],
      opinions:
        poll.opinion === undefined ? [] : [{ participantId: poll.member, text: poll.opinion }],
    });

  /**
   * A poll in the layout a version without the matrix's index wrote (the whole-matrix
   * hashes only), rated by `U-<roundId>`, with their opinion when given.
   */
  const legacyPoll = async (workspaceId: string, roundId: string, at: number, opinion?: string) => {
    const tenant = `${env.prefix}:slack.${workspaceId}:matrix`;
    const id = `${roundId}.v1`;
    const member = `U-${roundId}`;
    await redis.hset(
      `${tenant}:statements`,
      id,
      JSON.stringify({ id, text: roundId, roundId, version: 1, question: 'Q', at }),
    );
    await redis.hset(
      `${tenant}:ratings`,
      `${member}${SEP}${id}`,
      JSON.stringify({ approval: 1, at }),
    );
    if (opinion !== undefined) {
      await redis.hset(
        `${tenant}:opinions`,
        `${member}${SEP}${roundId}`,
        JSON.stringify({ text: opinion, at }),
      );
    }
  };

  it('keeps rounds of two workspaces apart even with the same ids', async () => {
    await store.rounds.create(round('r1', slack));
    await store.rounds.create({ ...round('r1', discord), question: 'Discord question?' });
    expect((await store.rounds.require(slack, 'r1')).question).toBe('Should we?');
    expect((await store.rounds.require(discord, 'r1')).question).toBe('Discord question?');
    await expect(
      store.rounds.get({ platform: 'slack', workspaceId: 'T2' }, 'r1'),
    ).resolves.toBeNull();
  });

  it('refuses to create the same round twice', async () => {
    await store.rounds.create(round('dup'));
    await expect(store.rounds.create(round('dup'))).rejects.toBeInstanceOf(DomainError);
  });

  it('lets exactly one of many concurrent closes move the round on', async () => {
    await store.rounds.create(round('race'));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () =>
        store.rounds.update(slack, 'race', (r) => {
          assertTransition(r.phase, 'generating');
          return { ...r, phase: 'generating', attempt: r.attempt + 1 };
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(7);
    for (const r of rejected)
      expect((r as PromiseRejectedResult).reason.code).toBe('illegal_transition');
    expect((await store.rounds.require(slack, 'race')).attempt).toBe(1);
  });

  it("drops a closed round from the channel's open rounds", async () => {
    await store.rounds.create({ ...round('open1'), channelId: 'C9' });
    expect((await store.rounds.openInChannel(slack, 'C9')).map((r) => r.id)).toEqual(['open1']);
    await store.rounds.update(slack, 'open1', (r) => ({ ...r, phase: 'cancelled' }));
    expect(await store.rounds.openInChannel(slack, 'C9')).toEqual([]);
  });

  it("joins a member's replies, replaces an edited one and forgets a deleted one", async () => {
    const c = store.contributions;
    await c.upsert(slack, 'r1', 'opinion', 0, 'U1', {
      channelId: 'C1',
      messageId: 'm1',
      text: 'First thought.',
      at: 1,
    });
    await c.upsert(slack, 'r1', 'opinion', 0, 'U1', {
      channelId: 'C1',
      messageId: 'm2',
      text: 'Second thought.',
      at: 2,
    });
    await c.upsert(slack, 'r1', 'opinion', 0, 'U2', {
      channelId: 'C1',
      messageId: 'm3',
      text: 'Other view.',
      at: 3,
    });
    expect((await c.list(slack, 'r1', 'opinion', 0)).map((o) => [o.participantId, o.text])).toEqual(
      [
        ['U1', 'First thought.\nSecond thought.'],
        ['U2', 'Other view.'],
      ],
    );
    expect(
      await c.upsert(slack, 'r1', 'opinion', 0, 'U1', {
        channelId: 'C1',
        messageId: 'm1',
        text: 'Edited.',
        at: 1,
      }),
    ).toBe('edited');
    // Someone else's message id cannot be overwritten.
    expect(
      await c.upsert(slack, 'r1', 'opinion', 0, 'U2', {
        channelId: 'C1',
        messageId: 'm1',
        text: 'hijack',
        at: 5,
      }),
    ).toBe('ignored');
    expect(await c.remove(slack, 'r1', 'm2')).toEqual({ kind: 'opinion', version: 0 });
    expect((await c.get(slack, 'r1', 'opinion', 0, 'U1'))?.text).toBe('Edited.');
    await c.remove(slack, 'r1', 'm1');
    expect(await c.get(slack, 'r1', 'opinion', 0, 'U1')).toBeNull();
    // The other workspace sees none of it.
    expect(await c.list(discord, 'r1', 'opinion', 0)).toEqual([]);
  });

  it('keeps the latest edit and the deletion whatever order their events arrive in', async () => {
    const c = store.contributions;
    const reply = (text: string, revision: number) =>
      c.upsert(
        slack,
        'order',
        'opinion',
        0,
        'U1',
        { channelId: 'C1', messageId: 'm1', text, at: 10 },
        revision,
      );
    expect(await reply('Second edit.', 30)).toBe('added');
    // The first edit arrives late: it is older than what is stored and changes nothing.
    expect(await reply('First edit.', 20)).toBe('stale');
    expect(await reply('Original.', 10)).toBe('stale');
    expect((await c.get(slack, 'order', 'opinion', 0, 'U1'))?.text).toBe('Second edit.');
    expect(await c.locate(slack, 'order', 'm1')).toEqual({ kind: 'opinion', version: 0 });

    // A deletion handled before the message itself: the message never counts.
    expect(await c.remove(slack, 'order', 'm2')).toBeNull();
    expect(
      await c.upsert(slack, 'order', 'opinion', 0, 'U2', {
        channelId: 'C1',
        messageId: 'm2',
        text: 'Late.',
        at: 5,
      }),
    ).toBe('deleted');
    expect(await c.locate(slack, 'order', 'm2')).toBe('deleted');
    expect((await c.list(slack, 'order', 'opinion', 0)).map((o) => o.participantId)).toEqual([
      'U1',
    ]);

    // A message stays in the set it was first written to.
    expect(
      await c.upsert(slack, 'order', 'critique', 1, 'U1', {
        channelId: 'C1',
        messageId: 'm1',
        text: 'x',
        at: 40,
      }),
    ).toBe('ignored');
    expect(await c.list(slack, 'order', 'critique', 1)).toEqual([]);
  });

  it("remembers each stored reply's round by its channel and id, per workspace", async () => {
    const c = store.contributions;
    const write = (scope: Scope, roundId: string, member: string, messageId: string) =>
      c.upsert(scope, roundId, 'opinion', 0, member, {
        channelId: 'C7',
        messageId,
        text: 'A reply.',
        at: 1,
      });
    expect(await c.roundOf(slack, 'C7', 'm1')).toBeNull();
    expect(await write(slack, 'where1', 'U1', 'm1')).toBe('added');
    expect(await c.roundOf(slack, 'C7', 'm1')).toBe('where1');
    // Not in another channel, nor in another workspace with the same ids.
    expect(await c.roundOf(slack, 'C8', 'm1')).toBeNull();
    expect(await c.roundOf(discord, 'C7', 'm1')).toBeNull();
    expect(await write(discord, 'where2', 'U1', 'm1')).toBe('added');
    expect(await c.roundOf(discord, 'C7', 'm1')).toBe('where2');
    expect(await c.roundOf(slack, 'C7', 'm1')).toBe('where1');
    // Only a reply actually stored is remembered: not one refused as deleted.
    await c.remove(slack, 'where1', 'm2');
    expect(await write(slack, 'where1', 'U2', 'm2')).toBe('deleted');
    expect(await c.roundOf(slack, 'C7', 'm2')).toBeNull();
    // A deleted reply's round stays known.
    await c.remove(slack, 'where1', 'm1');
    expect(await c.roundOf(slack, 'C7', 'm1')).toBe('where1');
    // Stored data is checked like every other read.
    await redis.hset(`${env.prefix}:slack.T1:channel:C7:reply-rounds`, 'bad', '"no spaces"');
    await expect(c.roundOf(slack, 'C7', 'bad')).rejects.toThrow(/Stored data/);
  });

  it("reads one member's text alone, through cleared, deleted and re-written messages", async () => {
    const c = store.contributions;
    const write = (member: string, messageId: string, text: string, at: number, revision = at) =>
      c.upsert(
        slack,
        'one',
        'opinion',
        0,
        member,
        { channelId: 'C1', messageId, text, at },
        revision,
      );
    await write('U1', 'a', 'First point.', 1);
    await write('U2', 'b', 'Someone else entirely.', 2);
    await write('U1', 'c', 'Second point.', 3);
    await write('U1', 'd', 'Third point.', 4);
    expect((await c.get(slack, 'one', 'opinion', 0, 'U1'))?.text).toBe(
      'First point.\nSecond point.\nThird point.',
    );
    // Edited to nothing, deleted, then the emptied message written again: listed once.
    await c.clear(slack, 'one', 'opinion', 0, 'a');
    await c.remove(slack, 'one', 'c');
    expect((await c.get(slack, 'one', 'opinion', 0, 'U1'))?.text).toBe('Third point.');
    await write('U1', 'a', 'First point, again.', 1, 5);
    await write('U1', 'a', 'First point, again and again.', 1, 6);
    expect((await c.get(slack, 'one', 'opinion', 0, 'U1'))?.text).toBe(
      'First point, again and again.\nThird point.',
    );
    // Another member's message under the same id is refused, not listed as theirs.
    expect(await write('U2', 'd', 'Not yours.', 7)).toBe('ignored');
    expect((await c.get(slack, 'one', 'opinion', 0, 'U2'))?.text).toBe('Someone else entirely.');
    expect(await c.get(slack, 'one', 'opinion', 0, 'U3')).toBeNull();
    expect(await c.get(slack, 'one', 'critique', 1, 'U1')).toBeNull();
    // Agrees with the whole set's listing.
    const all = await c.list(slack, 'one', 'opinion', 0);
    expect(all.find((o) => o.participantId === 'U1')).toEqual(
      await c.get(slack, 'one', 'opinion', 0, 'U1'),
    );
    // The list holds the messages that count, each once: the deleted one is dropped.
    expect(await redis.hget(`${env.prefix}:slack.T1:round:one:opinion:0:by-member`, 'U1')).toBe(
      'd\na',
    );
  });

  it('counts the members who wrote, each once, no further than asked', async () => {
    for (let i = 0; i < 250; i++) {
      await store.contributions.upsert(slack, 'many', 'opinion', 0, `U${i % 120}`, {
        channelId: 'C1',
        messageId: `m${i}`,
        text: `reply ${i}`,
        at: i,
      });
    }
    expect(await store.contributions.countAuthors(slack, 'many', 'opinion', 0, 1_000)).toBe(120);
    expect(await store.contributions.countAuthors(slack, 'many', 'opinion', 0, 2)).toBe(2);
    expect(await store.contributions.countAuthors(slack, 'none', 'opinion', 0, 2)).toBe(0);
  });

  it('stores an over-long opinion truncated, with a note and its original length', async () => {
    const long = 'x'.repeat(5_000);
    await store.contributions.upsert(slack, 'long', 'opinion', 0, 'U1', {
      channelId: 'C1',
      messageId: 'm',
      text: long,
      at: 1,
    });
    const [opinion] = await store.contributions.list(slack, 'long', 'opinion', 0);
    expect(opinion?.truncated).toBe(true);
    expect(opinion?.originalLength).toBe(5_000);
    expect(opinion?.text.length).toBe(4_000);
    expect(opinion?.text.endsWith('[…truncated]')).toBe(true);
  });

  it("counts a member's latest reaction still present as their rating", async () => {
    const poll = openPoll('rx1');
    await store.rounds.create(
      storedRound({ id: 'rx1', scope: slack, phase: 'polling', version: 1 }),
    );
    const p = store.polls;
    await p.addReaction(slack, 'rx1', 1, 'U1', 'agree', 10);
    await p.addReaction(slack, 'rx1', 1, 'U1', 'disagree', 20);
    await p.addReaction(slack, 'rx1', 1, 'U1', 'agree', 10); // duplicate delivery: still t=10
    await p.addReaction(slack, 'rx1', 1, 'U2', 'unsure', 15);
    await p.addReaction(slack, 'rx1', 1, 'U3', 'not-an-option', 15);
    let ratings = await p.ratings(slack, poll);
    expect(ratings.map((r) => [r.participantId, r.optionKey, r.approval])).toEqual([
      ['U1', 'disagree', 0],
      ['U2', 'unsure', 0.5],
    ]);
    await p.removeReaction(slack, 'rx1', 1, 'U1', 'disagree', 25);
    await p.removeReaction(slack, 'rx1', 1, 'U2', 'unsure', 25);
    ratings = await p.ratings(slack, poll);
    expect(ratings.map((r) => [r.participantId, r.optionKey])).toEqual([['U1', 'agree']]);
  });

  it('settles on what a member did last when reaction events arrive out of order', async () => {
    const poll = openPoll('rx2');
    await store.rounds.create(
      storedRound({ id: 'rx2', scope: slack, phase: 'polling', version: 1 }),
    );
    const p = store.polls;
    const rated = async () =>
      (await p.ratings(slack, poll)).map((r) => [r.participantId, r.optionKey]);
    // U1 added agree (10) and took it back (20); the removal is handled first.
    await p.removeReaction(slack, 'rx2', 1, 'U1', 'agree', 20);
    await p.addReaction(slack, 'rx2', 1, 'U1', 'agree', 10);
    expect(await rated()).toEqual([]);
    // U1 reacted again (30); that add arrives before a stale copy of the removal.
    await p.addReaction(slack, 'rx2', 1, 'U1', 'agree', 30);
    await p.removeReaction(slack, 'rx2', 1, 'U1', 'agree', 20);
    expect(await rated()).toEqual([['U1', 'agree']]);
    // Two skin tones of one option are two reactions: removing one keeps the other.
    await p.addReaction(slack, 'rx2', 1, 'U2', 'agree', 40, '+1');
    await p.addReaction(slack, 'rx2', 1, 'U2', 'agree', 41, '+1::skin-tone-3');
    await p.removeReaction(slack, 'rx2', 1, 'U2', 'agree', 42, '+1::skin-tone-3');
    expect(await rated()).toEqual([
      ['U1', 'agree'],
      ['U2', 'agree'],
    ]);
    // A button click replaces every other option the member chose.
    await p.addReaction(slack, 'rx2', 1, 'U2', 'disagree', 10);
    expect(
      await p.choose(slack, 'rx2', 1, 'U2', 'unsure', 50, ['agree', 'unsure', 'disagree']),
    ).toBe(true);
    expect(await rated()).toEqual([
      ['U1', 'agree'],
      ['U2', 'unsure'],
    ]);
  });

  it('keeps a re-add whose removal, made between the two adds, arrives after it', async () => {
    // The member added (1), took it back (2) and added again (3); the platform delivered
    // the second add before the removal. The add at 3 must raise the stored time, or the
    // late removal at 2 would beat the first add's 1 and the rating would be lost.
    const poll = openPoll('rx5');
    await store.rounds.create(
      storedRound({ id: 'rx5', scope: slack, phase: 'polling', version: 1 }),
    );
    const p = store.polls;
    await p.addReaction(slack, 'rx5', 1, 'U1', 'agree', 1);
    await p.addReaction(slack, 'rx5', 1, 'U1', 'agree', 3);
    await p.removeReaction(slack, 'rx5', 1, 'U1', 'agree', 2);
    expect((await p.ratings(slack, poll)).map((r) => [r.participantId, r.optionKey, r.at])).toEqual(
      [['U1', 'agree', 3]],
    );
  });

  it('lets an add at the same time as the removal undo it, and an older add not', async () => {
    // "At least as new": a coarse event clock (or a catch-up replay) can give a take-back
    // and the re-add the same time, and the member's last act was the re-add.
    const poll = openPoll('rx6');
    await store.rounds.create(
      storedRound({ id: 'rx6', scope: slack, phase: 'polling', version: 1 }),
    );
    const p = store.polls;
    await p.addReaction(slack, 'rx6', 1, 'U1', 'agree', 3);
    await p.removeReaction(slack, 'rx6', 1, 'U1', 'agree', 5);
    await p.addReaction(slack, 'rx6', 1, 'U1', 'agree', 5);
    await p.removeReaction(slack, 'rx6', 1, 'U2', 'agree', 5);
    await p.addReaction(slack, 'rx6', 1, 'U2', 'agree', 4);
    expect((await p.ratings(slack, poll)).map((r) => [r.participantId, r.optionKey])).toEqual([
      ['U1', 'agree'],
    ]);
  });

  it("settles two options added at the same time on the larger key, whatever the hash's order", async () => {
    // The hash's field order is insertion order only in its small encoding; the rating
    // recorded at close and the one read later must not depend on it.
    const poll = openPoll('rx7');
    await store.rounds.create(
      storedRound({ id: 'rx7', scope: slack, phase: 'polling', version: 1 }),
    );
    const p = store.polls;
    await p.addReaction(slack, 'rx7', 1, 'U1', 'agree', 7);
    await p.addReaction(slack, 'rx7', 1, 'U1', 'disagree', 7);
    await p.addReaction(slack, 'rx7', 1, 'U2', 'disagree', 7);
    await p.addReaction(slack, 'rx7', 1, 'U2', 'agree', 7);
    expect((await p.ratings(slack, poll)).map((r) => [r.participantId, r.optionKey])).toEqual([
      ['U1', 'disagree'],
      ['U2', 'disagree'],
    ]);
  });

  it('refuses a reaction or click once the round has moved past its poll, in the write itself', async () => {
    await store.rounds.create(
      storedRound({ id: 'rx3', scope: slack, phase: 'polling', version: 1 }),
    );
    const p = store.polls;
    const poll = openPoll('rx3');
    expect(await p.addReaction(slack, 'rx3', 1, 'U1', 'agree', 10)).toBe(true);
    expect(await p.choose(slack, 'rx3', 1, 'U2', 'agree', 10, ['agree', 'disagree'])).toBe(true);
    // Taking critiques keeps the poll open.
    await store.rounds.update(slack, 'rx3', (r) => ({ ...r, phase: 'critiquing' }));
    expect(await p.addReaction(slack, 'rx3', 1, 'U3', 'disagree', 11)).toBe(true);
    await store.rounds.update(slack, 'rx3', (r) => ({ ...r, phase: 'closed' }));
    expect(await p.addReaction(slack, 'rx3', 1, 'U4', 'agree', 12)).toBe(false);
    expect(await p.removeReaction(slack, 'rx3', 1, 'U1', 'agree', 12)).toBe(false);
    expect(await p.choose(slack, 'rx3', 1, 'U2', 'disagree', 12, ['agree', 'disagree'])).toBe(
      false,
    );
    const rated = (await p.ratings(slack, poll)).map((r) => [r.participantId, r.optionKey]);
    expect(rated).toEqual([
      ['U1', 'agree'],
      ['U2', 'agree'],
      ['U3', 'disagree'],
    ]);
    // A poll of another version than the round's is over too, and an unknown round's.
    expect(await p.addReaction(slack, 'rx3', 2, 'U1', 'agree', 13)).toBe(false);
    expect(await p.addReaction(slack, 'nope', 1, 'U1', 'agree', 13)).toBe(false);
  });

  it("refuses a rating of the previous poll once a revision's poll is open, in the write itself", async () => {
    await store.rounds.create(
      storedRound({ id: 'rx4', scope: slack, phase: 'critiquing', version: 1 }),
    );
    const p = store.polls;
    expect(await p.addReaction(slack, 'rx4', 1, 'U1', 'agree', 10)).toBe(true);
    // The revision's poll opened between the service's check and this write.
    await store.rounds.update(slack, 'rx4', (r) => ({ ...r, phase: 'polling', version: 2 }));
    expect(await p.addReaction(slack, 'rx4', 1, 'U2', 'agree', 11)).toBe(false);
    expect(await p.choose(slack, 'rx4', 1, 'U3', 'agree', 11, ['agree', 'disagree'])).toBe(false);
    expect(await p.addReaction(slack, 'rx4', 2, 'U2', 'agree', 12)).toBe(true);
    expect((await p.ratings(slack, openPoll('rx4'))).map((r) => r.participantId)).toEqual(['U1']);
  });

  it('refuses a critique of a version the round has moved past, in the write itself', async () => {
    await store.rounds.create(
      storedRound({ id: 'cv1', scope: slack, phase: 'critiquing', version: 1 }),
    );
    const c = store.contributions;
    const critique = (messageId: string, version: number) =>
      c.upsert(slack, 'cv1', 'critique', version, 'U1', {
        channelId: 'C1',
        messageId,
        text: 'It misses Friday support.',
        at: 1,
      });
    expect(await critique('a', 1)).toBe('added');
    // A close moved it to version 2's critiques between the service's check and this write.
    await store.rounds.update(slack, 'cv1', (r) => ({ ...r, version: 2 }));
    expect(await critique('b', 1)).toBe('closed');
    expect((await c.list(slack, 'cv1', 'critique', 1)).map((x) => x.text)).toEqual([
      'It misses Friday support.',
    ]);
    expect(await critique('b', 2)).toBe('added');
  });

  it('de-duplicates events per workspace', async () => {
    expect(await store.events.firstSeen(slack, 'Ev1')).toBe(true);
    expect(await store.events.firstSeen(slack, 'Ev1')).toBe(false);
    expect(await store.events.firstSeen(discord, 'Ev1')).toBe(true);
  });

  it('remembers an event id for a day, past the retries of Slack (minutes) and Discord resumes', async () => {
    expect(await store.events.firstSeen(slack, 'Ev-day')).toBe(true);
    // Redis's clock cannot be moved on: the key's own expiry is what says how long.
    const ttl = await redis.ttl(new Keys(env.prefix).event(slack, 'Ev-day'));
    expect(ttl).toBeGreaterThan(23 * 3600);
    expect(ttl).toBeLessThanOrEqual(24 * 3600);
  });

  it('maps platform messages to rounds and rounds to their messages', async () => {
    const ref = { channelId: 'C1', messageId: '111.222', threadId: null };
    await store.messages.link(
      slack,
      ref,
      { roundId: 'r1', kind: 'question', version: 0 },
      'question',
    );
    expect(await store.messages.lookup(slack, 'C1', '111.222')).toEqual({
      roundId: 'r1',
      kind: 'question',
      version: 0,
    });
    expect(await store.messages.lookup(discord, 'C1', '111.222')).toBeNull();
    expect(await store.messages.slot(slack, 'r1', 'question')).toEqual(ref);
  });

  it('rejects stored data that no longer matches its schema', async () => {
    await redis.set(`${env.prefix}:slack.T1:round:bad`, JSON.stringify({ id: 'bad' }));
    await expect(store.rounds.get(slack, 'bad')).rejects.toThrow(/invalid/);
  });

  it('keeps scores as stored, and refuses a stored matrix with an approval off the 0..1 scale', async () => {
    const matrix = { participants: ['U1', 'U2'], candidates: ['c1'], approvals: [[0.5, null]] };
    await store.polls.saveScores(slack, 'r9', 1, { matrix, model: 'judge' });
    expect(await store.polls.scores(slack, 'r9', 1)).toEqual({ matrix, model: 'judge' });
    await expect(
      store.polls.saveScores(slack, 'r9', 2, {
        matrix: { ...matrix, approvals: [[1.5, null]] },
        model: 'judge',
      }),
    ).rejects.toThrow();
    const key = `${env.prefix}:slack.T1:round:r9:scores:3`;
    await redis.set(
      key,
      JSON.stringify({ matrix: { ...matrix, approvals: [[-1, 0]] }, model: 'x' }),
    );
    await expect(store.polls.scores(slack, 'r9', 3)).rejects.toThrow(/invalid/);
  });

  it("loads the ratings matrix whole, or its latest statements with their ratings and rounds' opinions", async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TM' };
    // Recorded out of order: the poll's open time, not the write, decides what is latest.
    for (const [roundId, openedAt] of [
      ['r2', 200],
      ['r1', 100],
      ['r3', 300],
    ] as const) {
      await store.ratingsMatrix.recordPoll(scope, {
        roundId,
        version: 1,
        question: 'Q',
        statement: `statement of ${roundId}`,
        openedAt,
        ratings: [
          { participantId: `U-${roundId}`, optionKey: 'agree', approval: 1, at: openedAt },
          { participantId: 'U-all', optionKey: 'disagree', approval: 0, at: openedAt },
        ],
        opinions: [{ participantId: 'U-all', text: `opinion in ${roundId}` }],
      });
    }
    const whole = await store.ratingsMatrix.load(scope);
    expect(whole.statements.map((s) => s.roundId)).toEqual(['r1', 'r2', 'r3']);
    expect(whole.ratings).toHaveLength(6);

    const latest = await store.ratingsMatrix.load(scope, 2);
    expect(latest.statements.map((s) => s.roundId)).toEqual(['r2', 'r3']);
    expect(latest.ratings.map((r) => r.member).sort()).toEqual(['U-all', 'U-all', 'U-r2', 'U-r3']);
    // U-r1 rated only the dropped statement, and U-all's words from r1 are left out.
    expect(latest.members).toEqual([
      { id: 'U-all', text: 'opinion in r2\nopinion in r3' },
      { id: 'U-r2', text: '' },
      { id: 'U-r3', text: '' },
    ]);
  });

  it('names the hash and field of a matrix value that no longer reads, in either layout', async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TBAD' };
    await store.ratingsMatrix.recordPoll(scope, {
      roundId: 'r1',
      version: 1,
      question: 'Q',
      statement: 'statement of r1',
      openedAt: 100,
      ratings: [{ participantId: 'U1', optionKey: 'agree', approval: 1, at: 100 }],
      opinions: [{ participantId: 'U1', text: 'mine' }],
    });
    const tenant = `${env.prefix}:slack.TBAD:matrix`;
    await redis.hset(`${tenant}:statement:r1.v1`, 'U1', '{"approval":7,"at":1}');
    await expect(store.ratingsMatrix.load(scope, 10)).rejects.toThrow(
      `Stored data at ${tenant}:statement:r1.v1 field "U1" is invalid`,
    );
    await redis.hset(`${tenant}:ratings`, 'U1\u001fr1.v1', 'not json');
    await expect(store.ratingsMatrix.load(scope)).rejects.toThrow(
      `Stored data at ${tenant}:ratings field "U1\\u001fr1.v1" is invalid: not JSON`,
    );
    await redis.hset(`${tenant}:ratings`, 'U1\u001fr1.v1', '{"approval":1,"at":1}');
    await redis.hset(`${tenant}:round:r1`, 'U1', '{"text":5}');
    await expect(store.ratingsMatrix.load(scope, 10)).rejects.toThrow(
      `${tenant}:statement:r1.v1 field "U1"`,
    );
    await redis.hset(`${tenant}:statement:r1.v1`, 'U1', '{"approval":1,"at":1}');
    await expect(store.ratingsMatrix.load(scope, 10)).rejects.toThrow(
      `Stored data at ${tenant}:round:r1 field "U1" is invalid`,
    );
  });

  it('reads a window from the index alone, and indexes a matrix recorded before the index existed', async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TI' };
    const tenant = `${env.prefix}:slack.TI:matrix`;
    for (const [roundId, at] of [
      ['old1', 10],
      ['old2', 20],
      ['old3', 30],
    ] as const) {
      await legacyPoll('TI', roundId, at, `said in ${roundId}`);
    }
    const first = await store.ratingsMatrix.load(scope, 2);
    expect(first.statements.map((s) => s.id)).toEqual(['old2.v1', 'old3.v1']);
    expect(first.members).toEqual([
      { id: 'U-old2', text: 'said in old2' },
      { id: 'U-old3', text: 'said in old3' },
    ]);
    expect(await redis.zcard(`${tenant}:by-time`)).toBe(3);

    // Once indexed, a window reads neither whole-matrix hash of ratings or opinions.
    await onePoll(scope, { roundId: 'new1', at: 40, member: 'U-new1', opinion: 'said in new1' });
    await redis.del(`${tenant}:ratings`, `${tenant}:opinions`);
    const windowed = await store.ratingsMatrix.load(scope, 2);
    expect(windowed.ratings.map((r) => `${r.member}:${r.statement}`)).toEqual([
      'U-old3:old3.v1',
      'U-new1:new1.v1',
    ]);
    expect(windowed.members.map((m) => m.text)).toEqual(['said in new1', 'said in old3']);
  });

  it('records each poll in the index too, and an index pass never replaces what is already there', async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TN' };
    const tenant = `${env.prefix}:slack.TN:matrix`;
    await onePoll(scope, {
      roundId: 'r1',
      at: 10,
      member: 'U1',
      approval: 0,
      opinion: 'newer words',
    });
    expect(await redis.zscore(`${tenant}:by-time`, 'r1.v1')).toBe('10');
    expect(JSON.parse((await redis.hget(`${tenant}:statement:r1.v1`, 'U1')) ?? '{}')).toEqual({
      approval: 0,
      at: 10,
    });
    // A workspace's first poll needs no pass: nothing predates the index.
    expect(await redis.exists(`${tenant}:indexed`)).toBe(1);
    // As if it had predated the index, with an older snapshot in the whole-matrix hashes,
    // as a pass racing a record could see.
    await redis.del(`${tenant}:indexed`);
    await redis.hset(`${tenant}:ratings`, `U1${SEP}r1.v1`, JSON.stringify({ approval: 1, at: 5 }));
    await redis.hset(
      `${tenant}:opinions`,
      `U1${SEP}r1`,
      JSON.stringify({ text: 'older words', at: 5 }),
    );
    const latest = await store.ratingsMatrix.load(scope, 5);
    expect(await redis.exists(`${tenant}:indexed`)).toBe(1);
    expect(latest.ratings.map((r) => r.approval)).toEqual([0]);
    expect(latest.members).toEqual([{ id: 'U1', text: 'newer words' }]);
  });

  it('reads a window whole while another process holds the index lock, in the same order', async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TL' };
    const tenant = `${env.prefix}:slack.TL:matrix`;
    // Ids that sort apart by code unit and by locale ('rB' < 'ra' < 'rc' only by code unit).
    for (const roundId of ['ra', 'rB', 'rc']) {
      await onePoll(scope, { roundId, at: 7, member: `U-${roundId}` });
    }
    // As if recorded before the index, with another process indexing it now.
    await redis.del(`${tenant}:indexed`);
    await redis.set(`${tenant}:indexed:lock`, '1', 'PX', 60_000);
    const whole = await store.ratingsMatrix.load(scope, 2);
    expect(await redis.exists(`${tenant}:indexed`)).toBe(0);
    await redis.del(`${tenant}:indexed:lock`);
    const indexed = await store.ratingsMatrix.load(scope, 2);
    expect(await redis.exists(`${tenant}:indexed`)).toBe(1);
    expect(whole.statements.map((s) => s.id)).toEqual(['ra.v1', 'rc.v1']);
    expect(indexed).toEqual(whole);
  });

  it('indexes again what a version without the index wrote, and reads whole when Redis refuses the pass', async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TH' };
    const tenant = `${env.prefix}:slack.TH:matrix`;
    await onePoll(scope, { roundId: 'new1', at: 10, member: 'U-new1' });
    // An old worker, still running after the upgrade, records a poll its own way.
    await legacyPoll('TH', 'old1', 20);
    expect((await store.ratingsMatrix.load(scope, 5)).statements.map((s) => s.id)).toEqual([
      'new1.v1',
      'old1.v1',
    ]);
    expect(await redis.zcard(`${tenant}:by-time`)).toBe(2);

    // Another, and Redis refuses one of the pass's writes (here: a key of the wrong type).
    await legacyPoll('TH', 'old2', 30);
    await redis.set(`${tenant}:statement:old2.v1`, 'not a hash');
    await redis.del(`${tenant}:indexed`);
    const read = await store.ratingsMatrix.load(scope, 5);
    expect(read.ratings.map((r) => r.member)).toEqual(['U-new1', 'U-old1', 'U-old2']);
    expect(await redis.exists(`${tenant}:indexed`)).toBe(0);
    expect(await redis.exists(`${tenant}:indexed:lock`)).toBe(0);
  });

  it("windows by statement: a round's revision can be in while its first version is out, and ties go to the later id", async () => {
    const scope: Scope = { platform: 'slack', workspaceId: 'TV' };
    const poll = (roundId: string, version: number, at: number, member: string) =>
      onePoll(scope, { roundId, version, at, member, opinion: `words in ${roundId}` });
    await poll('ra', 1, 100, 'U1');
    await poll('ra', 2, 300, 'U2');
    await poll('rb', 1, 200, 'U3');
    // Same open time as rb v1: the ids break the tie, the same way on every load.
    await poll('rc', 1, 200, 'U4');
    const latest = await store.ratingsMatrix.load(scope, 2);
    expect(latest.statements.map((s) => s.id)).toEqual(['rc.v1', 'ra.v2']);
    expect(latest.ratings.map((r) => `${r.member}:${r.statement}`).sort()).toEqual([
      'U2:ra.v2',
      'U4:rc.v1',
    ]);
    // ra's opinions come with its revision, even U1's, whose rating of v1 is out.
    expect(latest.members.map((m) => m.id)).toEqual(['U1', 'U2', 'U4']);
  });
});

describe('phase counts', () => {
  const env = testRedis();
  it('moves a round between phase counters atomically with its update', async () => {
    const redis = env.connect();
    const store = createStore(redis, env.prefix);
    await store.rounds.create(round('p1'));
    await store.rounds.create(round('p2'));
    expect(await store.rounds.phaseCounts()).toEqual({ collecting: 2 });
    await store.rounds.update(slack, 'p1', (r) => ({ ...r, phase: 'generating' }));
    await store.rounds.update(slack, 'p1', (r) => ({ ...r, attempt: 3 })); // no phase change
    expect(await store.rounds.phaseCounts()).toEqual({ collecting: 1, generating: 1 });
    await deletePrefix(redis, env.prefix);
    await redis.quit();
  });
});

describe('posting tries', () => {
  const env = testRedis();
  it('says when the first try to post a slot began, to every later try, per round and slot', async () => {
    const redis = env.connect();
    const store = createStore(redis, env.prefix);
    expect(await store.messages.markPosting(slack, 'r1', 'results', 1_000)).toBeNull();
    expect(await store.messages.markPosting(slack, 'r1', 'results', 5_000)).toBe(1_000);
    expect(await store.messages.markPosting(slack, 'r1', 'results', 9_000)).toBe(1_000);
    expect(await store.messages.markPosting(slack, 'r1', 'statement:1', 9_000)).toBeNull();
    expect(await store.messages.markPosting(discord, 'r1', 'results', 9_000)).toBeNull();
    await deletePrefix(redis, env.prefix);
    await redis.quit();
  });
});

describe('rate limits', () => {
  const env = testRedis();
  it('allows max actions per window per bucket and workspace, then says when to retry', async () => {
    const redis = env.connect();
    let clock = 120_000; // start of a window
    const store = createStore(redis, env.prefix, () => clock);
    const rule = { max: 2, windowSeconds: 60 };
    const start = clock;
    expect((await store.limits.hit(slack, 'start:U1', rule)).allowed).toBe(true);
    expect((await store.limits.hit(slack, 'start:U1', rule)).allowed).toBe(true);
    clock = start + 15_000;
    expect(await store.limits.hit(slack, 'start:U1', rule)).toEqual({
      allowed: false,
      retryAfterSeconds: 45,
    });
    // Another member, another workspace, the next window: fresh counters.
    clock = start;
    expect((await store.limits.hit(slack, 'start:U2', rule)).allowed).toBe(true);
    expect((await store.limits.hit(discord, 'start:U1', rule)).allowed).toBe(true);
    clock = start + 60_000;
    expect((await store.limits.hit(slack, 'start:U1', rule)).allowed).toBe(true);
    await deletePrefix(redis, env.prefix);
    await redis.quit();
  });

  it('holds in any window, not per clock window: no double allowance across a boundary', async () => {
    const redis = env.connect();
    const boundary = 3_600_000 * 500_000;
    let clock = boundary;
    const store = createStore(redis, env.prefix, () => clock);
    const rule = { max: 2, windowSeconds: 60 };
    const hitAt = (at: number) => {
      clock = at;
      return store.limits.hit(slack, 'start:U1', rule);
    };
    // The last moment of one clock minute, then the first of the next.
    expect((await hitAt(boundary - 1)).allowed).toBe(true);
    expect((await hitAt(boundary - 1)).allowed).toBe(true);
    expect(await hitAt(boundary + 1)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    // Refused tries are not counted: the first two leave the window on time.
    expect((await hitAt(boundary + 59_998)).allowed).toBe(false);
    expect((await hitAt(boundary + 59_999)).allowed).toBe(true);
    // Both left together, so there is room for one more, and then none until a minute on.
    expect((await hitAt(boundary + 60_000)).allowed).toBe(true);
    expect(await hitAt(boundary + 60_001)).toEqual({ allowed: false, retryAfterSeconds: 60 });
    await deletePrefix(redis, env.prefix);
    await redis.quit();
  });
});
