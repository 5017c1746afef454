import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chartSize } from '../../../src/platforms/chart/results-chart.js';
import { pngSize } from '../../support/png.js';
import {
  type Embed,
  embedsOf,
  idOf,
  MOD,
  member,
  opinions,
  PERMS,
  settle,
  startRound,
  startWorld,
  TOKEN,
  until,
  type World,
} from './support.js';

const MEMBERS = {
  ana: member('ana'),
  ben: member('ben'),
  cai: member('cai'),
  dee: member('dee'),
  eve: member('eve'),
};

const OPINIONS: Record<keyof typeof MEMBERS, string> = {
  ana: 'Yes, a four-day week would reduce burnout and help us focus on what matters.',
  ben: 'No. Our customers expect us five days a week and support would suffer.',
  cai: 'Only if we keep Friday support coverage with a rota, and try it for three months first.',
  dee: 'I worry about cramming five days of work into four longer days; that is not a real gain.',
  eve: 'A trial with clear measures of output and wellbeing would tell us whether it works.',
};

describe('Discord: a whole round through the real discord.js client, fake Discord, Redis and workers', () => {
  let world: World;
  beforeEach(async () => {
    world = await startWorld();
  });
  afterEach(async () => {
    await world.stop();
  });

  it('runs /consensus start -> thread replies -> close -> reactions -> finish, as Discord records it', async () => {
    const { fake } = world;
    expect(fake.identifies).toHaveLength(1);
    // Guilds | GuildMessages | GuildMessageReactions | MessageContent
    expect(fake.identifies[0]?.intents).toBe(1 | 512 | 1024 | 32768);

    // 1. The moderator starts a round: the question goes to the channel, a thread opens on it.
    const { round, threadId, questionId, interactionId } = await startRound(world);
    const started = fake.reply(interactionId);
    expect(started.callbackType).toBe(4);
    expect(Number(started.original?.flags) & 64).toBe(64); // ephemeral
    const [question] = fake.requested('POST', new RegExp(`^/channels/${fake.channelId}/messages$`));
    expect(embedsOf(question?.body)[0]?.description).toContain(
      'Should our team adopt a four-day week?',
    );
    expect(question?.body).toMatchObject({ allowed_mentions: { parse: [] } });
    const [thread] = fake.requested('POST', /^\/channels\/\d+\/messages\/\d+\/threads$/);
    expect(thread?.path).toBe(`/channels/${fake.channelId}/messages/${questionId}/threads`);
    expect(thread?.body).toMatchObject({ name: 'Should our team adopt a four-day week?' });
    expect(threadId).toBe(questionId);

    // 2. Five members reply in the thread.
    for (const [name, user] of Object.entries(MEMBERS)) {
      fake.say(threadId, user, OPINIONS[name as keyof typeof MEMBERS]);
    }
    await until(async () => (await opinions(world, round.id)).length === 5 || null);

    // 3. Close: progress in the thread, then the statement embed with its poll reactions.
    const close = fake.command('close', {}, { user: MOD, permissions: PERMS.manageGuild });
    expect(String((await fake.answered(close)).original?.content)).toMatch(/is closed/);
    const inThread = new RegExp(`^/channels/${threadId}/messages$`);
    const [statement] = await fake.waitFor(() => {
      const posts = fake
        .requested('POST', inThread)
        .filter((r) => embedsOf(r.body)[0]?.title?.includes('Proposed statement'));
      return posts.length > 0 ? posts : null;
    }, 'statement');
    const embed = embedsOf(statement?.body)[0] as Embed;
    expect(embed.title).toBe('🗳️ Proposed statement (version 1)');
    expect(embed.description?.length).toBeGreaterThan(20);
    const fieldNames = embed.fields?.map((f) => f.name);
    expect(fieldNames).toEqual(
      expect.arrayContaining(['Round', 'How it was chosen', 'Predicted approval', 'Rate it']),
    );
    expect(embed.fields?.find((f) => f.name === 'Round')?.value).toContain(round.id);
    const statementId = idOf(statement?.response);
    const reactions = await fake.waitForRequest(
      'PUT',
      new RegExp(`^/channels/${threadId}/messages/${statementId}/reactions/`),
      3,
    );
    expect(reactions.map((r) => decodeURIComponent(r.path.split('/')[6] as string))).toEqual([
      '👍',
      '🤷',
      '👎',
    ]);
    const progress = fake.requested('POST', inThread).find((r) => {
      const content = (r.body as { content?: string }).content ?? '';
      return /Working on it|Done/.test(content);
    });
    expect(progress).toBeDefined();
    const progressId = idOf(progress?.response);
    await fake.waitForRequest(
      'PATCH',
      new RegExp(`^/channels/${threadId}/messages/${progressId}$`),
    );

    // 4. Members react; eve changes her mind. The bot's own three reactions came through
    // the gateway too, and another bot reacts: neither is a rating.
    const react = (user: keyof typeof MEMBERS, emoji: string, removed = false) =>
      fake.react(threadId, statementId, MEMBERS[user], emoji, removed);
    react('ana', '👍');
    react('ben', '👎');
    react('cai', '👍');
    react('dee', '🤷');
    react('eve', '👍');
    fake.react(
      threadId,
      statementId,
      { id: '1200000000000000009', username: 'poll-bot', bot: true },
      '👎',
    );
    await settle(world);
    react('eve', '👍', true);
    react('eve', '👎');
    await settle(world);
    const poll = await world.runtime.store.polls.poll(world.scope, round.id, 1);
    const ratings = await world.runtime.store.polls.ratings(world.scope, poll!);
    const byName = Object.fromEntries(
      Object.entries(MEMBERS).map(([name, u]) => [
        name,
        ratings.find((r) => r.participantId === u.id)?.optionKey,
      ]),
    );
    expect(byName).toEqual({
      ana: 'agree',
      ben: 'disagree',
      cai: 'agree',
      dee: 'unsure',
      eve: 'disagree',
    });
    expect(ratings).toHaveLength(5); // the bot's reactions are not ratings

    // 5. Finish: the results embed in the thread.
    const finish = fake.command('finish', {}, { user: MOD, permissions: PERMS.manageGuild });
    expect(String((await fake.answered(finish)).original?.content)).toMatch(/finished/);
    const [results] = await fake.waitFor(() => {
      const posts = fake
        .requested('POST', inThread)
        .filter((r) => embedsOf(r.body)[0]?.title === '📊 Results');
      return posts.length > 0 ? posts : null;
    }, 'results');
    const v1 = embedsOf(results?.body)[0]?.fields?.[0];
    expect(v1?.name).toBe('Version 1');
    expect(v1?.value).toContain('👍 agree **2** · 🤷 unsure **1** · 👎 disagree **2**');
    expect(v1?.value).toContain('5 ratings (5 members gave opinions)');
    expect(v1?.value).toContain('Approval predicted for 5 members, rated by 5.');
    expect(v1?.value).toContain('mean approval 50%');
    // The chart rides in the same message as the embed's image: a real PNG of its size.
    const chartName = `results-${round.id}.png`;
    expect(embedsOf(results?.body)[0]?.image).toEqual({ url: `attachment://${chartName}` });
    expect(results?.files.map((f) => [f.name, f.type])).toEqual([[chartName, 'image/png']]);
    expect(pngSize(results?.files[0]?.bytes as Buffer)).toEqual(chartSize(1));

    // Everything the round stored lives under this guild's scope.
    const roundKeys = (await world.redis.keys(`${world.prefix}:*`)).filter((k) =>
      /^[^:]+:(discord|slack|console)\./.test(k),
    );
    expect(roundKeys.length).toBeGreaterThan(5);
    expect(
      roundKeys.filter((k) => !k.startsWith(`${world.prefix}:discord.${fake.guildId}:`)),
    ).toEqual([]);

    // Every bot call to the REST API carried the token; none failed; no log line holds a secret.
    const botCalls = fake.requests.filter((r) => !/^\/(interactions|webhooks)\//.test(r.path));
    expect(botCalls.every((r) => r.authorized)).toBe(true);
    expect(fake.requests.filter((r) => r.status >= 400)).toEqual([]);
    const logged = JSON.stringify(world.log.lines);
    expect(logged).not.toContain(TOKEN);
    for (const i of fake.interactions.values()) expect(logged).not.toContain(i.token);
  });
});
