import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
