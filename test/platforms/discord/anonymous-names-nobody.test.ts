import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../../src/domain/limits.js';
import type { FakeFile, RecordedRequest } from '../../fakes/discord.js';
import {
  ana,
  ben,
  cai,
  contentOf,
  embedsOf,
  idOf,
  MOD,
  member,
  moderator,
  opinions,
  PERMS,
  settle,
  startRound,
  startWorld,
  until,
  type World,
} from './support.js';

/** Critiques without having given an opinion. */
const critic = member('critic');
/** A plain member who asks for the results in public and for the export. */
const reader = member('reader');
/** Starts (and cancels) a second round. */
const secondStarter = member('second');
const EVERYONE = [ana, ben, cai, critic, reader, secondStarter, MOD];

/** cai's is cut to the limit, so the bot replies to it and the exclusion check has a name. */
const OPINIONS: [typeof ana, string][] = [
  [ana, 'Yes, a four-day week would reduce burnout and help us focus on what matters.'],
  [ben, 'No. Our customers expect us five days a week and support would suffer.'],
  [
    cai,
    `Only with a Friday support rota. ${'We would need a trial first. '.repeat(
      Math.ceil(LIMITS.opinionMaxChars / 29),
    )}`,
  ],
];

const EPHEMERAL = 64;
const fileTexts = (files: unknown) =>
  Array.isArray(files) ? (files as FakeFile[]).map((f) => f.text).join('\n') : '';

describe('Discord: an anonymous round, from the question to the export', () => {
  let world: World;
  afterEach(async () => {
    await world?.stop();
  });

  it('names no member, the starter included, in any public message or file', async () => {
    world = await startWorld();
    const { fake, runtime } = world;
    const { round, threadId } = await startRound(world, 'Should we adopt a four-day week?', {
      anonymous: true,
      remind_minutes: 30,
    });
    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    const postedInThread = (matches: (r: RecordedRequest) => boolean, what: string) =>
      fake.waitFor(() => fake.requested('POST', inThread).find(matches) ?? null, what);
    const content = (r: RecordedRequest) => String((r.body as { content?: unknown })?.content);
    const titled = (title: string) => (r: RecordedRequest) =>
      embedsOf(r.body)[0]?.title?.includes(title) ?? false;

    for (const [user, text] of OPINIONS) fake.say(threadId, user, text);
    await until(async () => (await opinions(world, round.id)).length === 3 || null);
    await postedInThread((r) => content(r).includes('Your opinion is'), 'the note on cai’s');
    const polling = (version: number) =>
      until(async () => {
        const r = await runtime.store.rounds.require(world.scope, round.id);
        return r.phase === 'polling' && r.version === version;
      });
    await fake.answered(fake.command('close', {}, moderator));
    await polling(1);

    // The reminder is due in 30 minutes: its delayed job runs now, through the worker.
    const reminder = await until(async () =>
      (await runtime.queues.deadline.getDelayed()).find(
        (j) => j.data.kind === 'reminder' && j.data.roundId === round.id,
      ),
    );
    await reminder.promote();
    await postedInThread((r) => content(r).startsWith('Reminder'), 'reminder');

    await fake.answered(fake.command('critique', {}, moderator));
    await postedInThread((r) => content(r).includes('What does this statement miss?'), 'invite');
    fake.say(threadId, critic, 'It forgets the people who work part-time.');
    fake.say(threadId, ben, 'Nothing about Friday customer support.');
    await settle(world);
    await until(async () => {
      const critiques = await runtime.store.contributions.list(
        world.scope,
        round.id,
        'critique',
        1,
      );
      return critiques.length === 2 || null;
    });
    await fake.answered(fake.command('close', {}, moderator));
    await polling(2);
    const v2 = await postedInThread(titled('Proposed statement (version 2)'), 'version 2');
    await until(async () => runtime.store.messages.slot(world.scope, round.id, 'statement:2'));
    for (const [user, option] of [
      [critic, 'disagree'],
      [ana, 'agree'],
    ] as const) {
      await fake.answered(
        fake.click(idOf(v2.response), `consensus:rate:anonymous:${option}`, user),
      );
    }

    const results = fake.command('results', {}, { user: reader, permissions: PERMS.member });
    await fake.answered(results);
    await fake.answered(fake.command('finish', {}, moderator));
    await postedInThread(titled('Results'), 'results');
    const exported = fake.command('export', {}, { user: reader, permissions: PERMS.member });
    await fake.answered(exported);

    // A round that ends by cancel says so in its thread.
    const start = fake.command(
      'start',
      { question: 'Should we move the office?', anonymous: true },
      { user: secondStarter, permissions: PERMS.member },
    );
    await fake.answered(start);
    const secondId = /Round `([^`]+)` started/.exec(contentOf(world, start))?.[1];
    const second = await until(async () => {
      const r = await runtime.store.rounds.require(world.scope, String(secondId));
      return r.questionRef?.threadId ? r : null;
    });
    const cancel = fake.command(
      'cancel',
      { round: second.id },
      { user: secondStarter, permissions: PERMS.member },
    );
    await fake.answered(cancel);
    const secondThread = new RegExp(`^/channels/${second.questionRef?.threadId}/messages$`);
    await fake.waitFor(
      () =>
        fake
          .requested('POST', secondThread)
          .find((r) => content(r).startsWith('This round was cancelled')) ?? null,
      'cancel notice',
    );
    await settle(world);

    // What the channel sees: every message, edit, thread and reaction the bot sent ...
    const sent = fake.requests.filter(
      (r) => r.method !== 'GET' && r.method !== 'DELETE' && r.path.startsWith('/channels/'),
    );
    expect(sent.some(titled('What do you think?'))).toBe(true); // both questions
    expect(sent.filter((r) => r.method === 'PATCH').length).toBeGreaterThan(0); // progress
    expect(sent.some(titled('Results'))).toBe(true);
    const shown = sent.map((r) => ({
      what: `${r.method} ${r.path}`,
      text: `${JSON.stringify(r.body)}\n${fileTexts(r.files)}`,
    }));
    // ... and every command answer that is not only for the member who asked.
    for (const state of fake.interactions.values()) {
      for (const message of [state.original, ...state.followUps]) {
        if (!message || state.deleted || Number(message.flags) & EPHEMERAL) continue;
        shown.push({
          what: `answer to interaction ${state.id}`,
          text: `${JSON.stringify({ ...message, files: undefined })}\n${fileTexts(message.files)}`,
        });
      }
    }
    expect(shown.some((s) => s.what.startsWith('answer to'))).toBe(true); // `results`
    // The export is only for the member who asked; its files name nobody either.
    shown.push({
      what: 'export files',
      text: fileTexts(fake.reply(exported).original?.files),
    });
    expect(shown.at(-1)?.text).toContain('member-1');

    for (const { what, text } of shown) {
      for (const user of EVERYONE)
        expect(text, `${what} names ${user.username}`).not.toContain(user.id);
      expect(text, `${what} shows a pseudonym`).not.toContain('anon-');
    }
  });
});
