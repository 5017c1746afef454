import { afterEach, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../../fakes/discord.js';
import {
  embedsOf,
  member,
  moderator,
  opinions,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

/** More members than one message can name (2,000 characters at about 23 a mention). */
const MEMBERS = Array.from({ length: 120 }, (_, i) => member(`m${i}`));

describe('Discord: a large group', () => {
  let world: World;
  afterEach(async () => {
    await world?.stop();
  });

  it('reminds every member who has not rated, in as many messages as it takes, and counts the least served past a dozen', async () => {
    world = await startWorld();
    const { fake, runtime } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      remind_minutes: 30,
    });
    for (const [i, user] of MEMBERS.entries()) {
      fake.say(threadId, user, `Opinion ${i}: a trial of a four-day week, with Friday cover.`);
    }
    await settle(world);
    await until(async () => (await opinions(world, round.id)).length === MEMBERS.length || null);
    await fake.answered(fake.command('close', {}, moderator));
    await until(async () => {
      const r = await runtime.store.rounds.require(world.scope, round.id);
      return r.phase === 'polling' || null;
    });
    // The reminder is due in 30 minutes: its delayed job runs now, through the worker.
    const reminder = await until(async () =>
      (await runtime.queues.deadline.getDelayed()).find(
        (j) => j.data.kind === 'reminder' && j.data.roundId === round.id,
      ),
    );
    await reminder.promote();
    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    const body = (r: RecordedRequest) =>
      r.body as { content?: string; allowed_mentions?: { parse?: string[]; users?: string[] } };
    const isReminderPart = (r: RecordedRequest) => /<@\d+>/.test(body(r).content ?? '');
    const parts = await until(() => {
      const found = fake.requested('POST', inThread).filter(isReminderPart);
      const named = new Set(found.flatMap((r) => body(r).allowed_mentions?.users ?? []));
      return named.size === MEMBERS.length ? found : null;
    });
    expect(body(parts[0] as RecordedRequest).content).toMatch(/^Reminder: <@/);
    expect(String(body(parts.at(-1) as RecordedRequest).content)).toMatch(
      /the results count only the ratings given\.$/,
    );
    for (const part of parts) {
      const { content = '', allowed_mentions } = body(part);
      expect(content.length).toBeLessThanOrEqual(2000);
      // Every mention whole, and pinged: the message's own mentions, no one else's.
      const mentioned = [...content.matchAll(/<@(\d+)>/g)].map((m) => m[1]);
      expect(content.replace(/<@\d+>/g, '')).not.toMatch(/<@|@\d/);
      expect(allowed_mentions).toEqual({ parse: [], users: mentioned });
    }
    const all = parts.map((p) => body(p).content).join(' ');
    for (const user of MEMBERS) expect(all).toContain(`<@${user.id}>`);

    // Everyone disagrees: all are the least served, more than a results field can name.
    const statement = await until(async () =>
      runtime.store.messages.slot(world.scope, round.id, 'statement:1'),
    );
    for (const user of MEMBERS) fake.react(threadId, statement.messageId, user, '👎');
    await settle(world);
    await fake.answered(fake.command('finish', {}, moderator));
    const results = await fake.waitFor(
      () =>
        fake
          .requested('POST', inThread)
          .find((r) => embedsOf(r.body)[0]?.title === '📊 Results' && r.status < 300) ?? null,
      'results',
    );
    const version1 = embedsOf(results.body)[0]?.fields?.[0]?.value ?? '';
    const least = version1.split('\n').find((l) => l.startsWith('Least served (rated):')) ?? '';
    expect([...least.matchAll(/<@\d+>/g)]).toHaveLength(12);
    expect(least).toContain(`and ${MEMBERS.length - 12} others at 0%`);
    // Only whole mentions: no id cut in half by the field's limit.
    expect(version1.replace(/<@\d+>/g, '')).not.toMatch(/<@/);
  });
});
