import { afterEach, describe, expect, it } from 'vitest';
import { slackSignature } from '../../fakes/slack.js';
import { message, opinions, SECRET, type Stack, startRound, startStack } from './support.js';

describe('Slack request signatures (HTTP mode)', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('answers a bad, stale, future-dated or tampered signature with 401 and changes nothing', async () => {
    s = await startStack();
    const { round, questionTs } = await startRound(s);
    const callsBefore = s.fake.calls.length;
    const envelope = (text: string) =>
      JSON.stringify({
        token: 'legacy-verification-token',
        team_id: 'T0001',
        api_app_id: 'A0001',
        type: 'event_callback',
        event_id: `Ev-${text.length}`,
        event_time: Math.floor(Date.now() / 1000),
        event: message(s, 'U001', text, questionTs),
      });
    const now = Math.floor(Date.now() / 1000);

    const wrongSecret = envelope('Signed with the wrong secret.');
    const bad = await s.post(wrongSecret, 'application/json', {
      signature: slackSignature('not-the-secret', now, wrongSecret),
    });
    const staleBody = envelope('Signed correctly, six minutes ago.');
    const stale = await s.post(staleBody, 'application/json', {
      timestamp: now - 6 * 60,
      signature: slackSignature(SECRET, now - 6 * 60, staleBody),
    });
    // Slack's window is five minutes either way; Bolt alone only refuses the past.
    const futureBody = envelope('Signed correctly, dated six minutes ahead.');
    const future = await s.post(futureBody, 'application/json', {
      timestamp: now + 6 * 60,
      signature: slackSignature(SECRET, now + 6 * 60, futureBody),
    });
    const original = envelope('What was signed.');
    const tampered = await s.post(
      original.replace('What was signed.', 'What was sent!!!'),
      'application/json',
      {
        signature: slackSignature(SECRET, now, original),
      },
    );
    const command = new URLSearchParams({
      team_id: 'T0001',
      user_id: 'U001',
      command: '/consensus',
      text: 'close',
    }).toString();
    const unsignedCommand = await s.post(command, 'application/x-www-form-urlencoded', {
      signature: 'v0=00',
    });

    expect([
      bad.status,
      stale.status,
      future.status,
      tampered.status,
      unsignedCommand.status,
    ]).toEqual([401, 401, 401, 401, 401]);
    // Each refusal is in the log, the future-dated one too (it is ours, not Bolt's): with a
    // clock behind Slack's every request is refused, and the log must say why.
    const warnings = s.log.lines.filter((l) => l.level === 'warn').map((l) => l.message);
    expect(warnings.some((m) => m.includes('request timestamp in the future'))).toBe(true);
    await s.settle();
    expect(await opinions(s, round.id)).toEqual([]);
    expect(s.fake.calls.length).toBe(callsBefore);

    // The same kind of request, signed properly, is taken.
    const good = envelope('Signed properly.');
    expect((await s.post(good, 'application/json')).status).toBe(200);
    await s.settle();
    expect((await opinions(s, round.id)).map((o) => o.text)).toEqual(['Signed properly.']);
  });
});
