import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pseudonym } from '../../src/deliberation/pseudonym.js';
import { roundExport } from '../../src/deliberation/round-export.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  postOpinions,
  replier,
  SCOPE,
  startHarness,
  startRound,
  until,
} from '../support/harness.js';

/** Ids that look alike on purpose: one contains another. */
const CRITICS = ['UCRIT1', 'UCRIT10'];

describe('an anonymous round with critiques from members who gave no opinion', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('exports no member id, gives every member their own label, and names nobody on cancel', async () => {
    const { service, store } = h.runtime;
    const { round, thread } = await startRound(h, undefined, { anonymous: true });
    const reply = replier(h, thread.messageId);
    let at = await postOpinions(h, thread.messageId);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    await h.platform.waitFor('statement', round.id);
    await service.critique(target, MODERATOR);
    // Critiques phrased as wishes: the offline reviser names whose critique it answers.
    await reply('c1', 'UCRIT1', 'It should say that part-time staff keep their hours.', at++);
    await reply('c2', 'UCRIT10', 'It must mention Friday customer support.', at++);
    await service.close(target, MODERATOR);
    await until(async () => (await store.rounds.require(SCOPE, round.id)).version === 2 || null);
    const candidates = await store.polls.candidates(SCOPE, round.id, 2);
    // The premise: an explanation names a critic (else this test proves nothing).
    expect(JSON.stringify(candidates)).toMatch(/UCRIT1/);

    const exported = await service.export(target);
    const text = JSON.stringify(exported);
    for (const id of [...Object.keys(OPINIONS), ...CRITICS, MODERATOR.userId]) {
      expect(text).not.toMatch(new RegExp(`\\b${id}\\b`));
    }
    const v2 = exported.versions.find((v) => v.version === 2);
    const participants = v2?.predicted?.participants ?? [];
    expect(new Set(participants).size).toBe(participants.length);
    expect(exported.versions[0]?.critiques.map((c) => c.participantId)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^member-\d+$/)]),
    );
    expect(new Set(exported.versions[0]?.critiques.map((c) => c.participantId)).size).toBe(2);

    await service.cancel(target, MODERATOR);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(/This round was cancelled by a moderator\./);
  });
});

describe("an anonymous round's export, read by someone who knows the members", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('lists and numbers its raters in an order the round id and seed do not give away', async () => {
    const { service, store } = h.runtime;
    // Ten members, each rating at a time of their own: a rating's time names its rater.
    const members = ['ana', 'ben', 'cai', 'dee', 'eli', 'fay', 'gus', 'hal', 'ivy', 'jon'];
    const { round, thread } = await startRound(h, undefined, { anonymous: true });
    const reply = replier(h, thread.messageId);
    let at = 1;
    for (const id of members) await reply(`o-${id}`, id, OPINIONS[id] ?? `${id} thinks so.`, at++);
    const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
    await service.close(target, MODERATOR);
    const statement = await h.platform.waitFor('statement', round.id);
    const ratedAt = new Map(members.map((id, i) => [id, 1_000 + i]));
    for (const id of members) {
      await service.react({
        scope: SCOPE,
        channelId: CHANNEL,
        messageId: statement.ref.messageId,
        userId: id,
        optionKey: 'agree',
        at: ratedAt.get(id) ?? 0,
        removed: false,
        source: 'button',
      });
    }
    const stored = await store.rounds.require(SCOPE, round.id);
    const exported = await roundExport(store, stored, Buffer.alloc(32, 7));
    const ratings = exported.versions[0]?.ratings ?? [];
    // Listed by number, each rater once.
    expect(ratings.map((r) => r.participantId)).toEqual(members.map((_, i) => `rater-${i + 1}`));
    const memberOf = (rating: { at: number }) =>
      members.find((id) => ratedAt.get(id) === rating.at);
    // The reader's attack: the export has the round's id and seed, the pseudonyms' key;
    // sorted, the members' pseudonyms would line up with the raters as listed. Under a key
    // the reader does not have, the order is a random one: all ten in place is one in 3.6
    // million.
    const guessed = members
      .map((id) => ({ id, p: pseudonym(exported.round, id) }))
      .sort((a, b) => (a.p < b.p ? -1 : 1))
      .map(({ id }) => id);
    expect(ratings.map(memberOf)).not.toEqual(guessed);
    // Another export (its own key) numbers them afresh: no number is a member's for good.
    const again = await roundExport(store, stored, Buffer.alloc(32, 8));
    const numberOf = (e: typeof exported, member: string) =>
      e.versions[0]?.ratings.find((r) => r.at === ratedAt.get(member))?.participantId;
    expect(members.map((id) => numberOf(again, id))).not.toEqual(
      members.map((id) => numberOf(exported, id)),
    );
  });
});
