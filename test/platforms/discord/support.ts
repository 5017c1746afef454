import type { Redis } from 'ioredis';
import { ConfigSchema } from '../../../src/app/config.js';
import { createDiscord, type DiscordConnection } from '../../../src/app/discord.js';
import { type DiscordConfig, loadDiscordConfig } from '../../../src/app/discord-config.js';
import { createRuntime, type Runtime } from '../../../src/app/runtime.js';
import type { Round } from '../../../src/domain/round.js';
import type { Scope } from '../../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../../src/models/offline/lexical-reward-model.js';
import type { DiscordService } from '../../../src/platforms/discord/bot.js';
import type { CatchUpLimits } from '../../../src/platforms/discord/catch-up.js';
import {
  FakeDiscord,
  type FakeDiscordOptions,
  type FakeUser,
  PERMS,
  snowflake,
} from '../../fakes/discord.js';
import { RecordingLog, until } from '../../support/harness.js';
import { deletePrefix, testRedis } from '../../support/redis.js';

export const TOKEN = 'MTA5ODc2NTQzMjEwOTg3NjU0.GfAkEt.fake-token-for-tests-only-0123456789abcd';
export const APPLICATION_ID = '1098765432109876543';

export const member = (username: string): FakeUser => ({ id: snowflake(), username });
export const MOD = member('mod');
/** Members most tests need, one id each per test file. */
export const ana = member('ana');
export const ben = member('ben');
export const cai = member('cai');

export interface World {
  fake: FakeDiscord;
  discord: DiscordConnection;
  runtime: Runtime;
  redis: Redis;
  log: RecordingLog;
  scope: Scope;
  /** Root of this test's Redis keys. */
  prefix: string;
  /**
   * The bot process dies and a new one starts on the same Redis and the same Discord.
   * `whileDown` plays what members do in between (the gateway delivers none of it).
   */
  restart(whileDown?: () => void | Promise<void>): Promise<void>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  fake?: Partial<FakeDiscordOptions>;
  moderatorRoles?: string[];
  deferAfterMs?: number;
  /** Wraps the service the bot calls (e.g. to make it slow). */
  wrap?: (service: DiscordService) => DiscordService;
  onFatal?: (message: string) => void;
  catchUpLimits?: Partial<CatchUpLimits>;
  /** Discord's cap on a request with files, told to the bot (give the fake the same). */
  maxRequestBytes?: number;
  /** More DISCORD_* settings (DISCORD_SHARDS, for instance), read as the bot reads them. */
  discordEnv?: Record<string, string>;
  /** More settings of the runtime (LIMIT_*, for instance), as environment variables. */
  env?: Record<
    string,
    string
  > /** The runtime's clock (limits count in its windows); default Date.now. */;
  now?: () => number;
}

/**
 * The real discord.js client against the fake Discord, with the real runtime (Redis,
 * BullMQ queues and workers, offline models) behind it: the bot process as deployed.
 */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const fake = await FakeDiscord.start({
    token: TOKEN,
    applicationId: APPLICATION_ID,
    ...options.fake,
  });
  const env = testRedis();
  const log = new RecordingLog();
  const loaded = loadDiscordConfig({
    DISCORD_TOKEN: TOKEN,
    DISCORD_APPLICATION_ID: APPLICATION_ID,
    DISCORD_API_URL: fake.apiUrl,
    ...options.discordEnv,
  });
  if (!loaded) throw new Error('the test settings leave Discord off');
  const config: DiscordConfig = { ...loaded, moderatorRoles: options.moderatorRoles ?? [] };
  const runtimeConfig = ConfigSchema.parse({
    REDIS_PREFIX: env.prefix,
    JOB_ATTEMPTS: '2',
    JOB_BACKOFF_MS: '10',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...options.env,
  });

  const boot = async () => {
    const redis = env.connect();
    const discord = createDiscord(config, {
      log,
      deferAfterMs: options.deferAfterMs,
      // A fatal close must never end the test process.
      onFatal: options.onFatal ?? (() => {}),
      catchUpLimits: options.catchUpLimits,
      maxRequestBytes: options.maxRequestBytes,
    });
    const runtime = createRuntime({
      config: runtimeConfig,
      redis,
      log,
      generator: new ExtractiveGenerator(),
      rewardModel: new LexicalRewardModel(),
      platforms: { discord: discord.port },
      runWorkers: true,
      now: options.now,
    });
    const service = options.wrap ? options.wrap(runtime.service) : runtime.service;
    await discord.start(service);
    return { redis, discord, runtime };
  };
  const shutdown = async (parts: Awaited<ReturnType<typeof boot>>) => {
    await parts.discord.stop();
    await parts.runtime.close();
  };

  let parts = await boot();
  const world: World = {
    fake,
    log,
    scope: { platform: 'discord', workspaceId: fake.guildId },
    prefix: env.prefix,
    get discord() {
      return parts.discord;
    },
    get runtime() {
      return parts.runtime;
    },
    get redis() {
      return parts.redis;
    },
    async restart(whileDown) {
      await shutdown(parts);
      await parts.redis.quit();
      await whileDown?.();
      parts = await boot();
    },
    async stop() {
      await shutdown(parts);
      await deletePrefix(parts.redis, env.prefix);
      await parts.redis.quit();
      await fake.close();
    },
  };
  return world;
}

/** Runs `/consensus start` as a moderator and waits for the question, its thread and the link. */
export async function startRound(
  world: World,
  question = 'Should our team adopt a four-day week?',
  options: Record<string, string | number | boolean> = {},
): Promise<{ round: Round; threadId: string; questionId: string; interactionId: string }> {
  const interactionId = world.fake.command(
    'start',
    { question, ...options },
    { user: MOD, permissions: PERMS.manageGuild },
  );
  const answer = await world.fake.answered(interactionId);
  const roundId = /Round `([^`]+)` started/.exec(String(answer.original?.content))?.[1];
  if (!roundId) throw new Error(`start failed: ${String(answer.original?.content)}`);
  const round = await until(async () => {
    const r = await world.runtime.store.rounds.require(world.scope, roundId);
    return r.questionRef ? r : null;
  });
  const ref = round.questionRef;
  if (!ref?.threadId) throw new Error('question has no thread');
  return { round, threadId: ref.threadId, questionId: ref.messageId, interactionId };
}

/** A started round with two opinions (ana's and ben's) in its thread, handled. */
export async function roundWithOpinions(world: World) {
  const started = await startRound(world);
  world.fake.say(started.threadId, ana, 'Four days, with a rota for Fridays.');
  world.fake.say(started.threadId, ben, 'Five days; customers expect us.');
  await settle(world);
  return started;
}

/** Whether the publish queue has nothing waiting, running or delayed. */
export async function publishIdle(world: World): Promise<boolean> {
  const c = await world.runtime.queues
    .publishQueue(world.scope)
    .getJobCounts('waiting', 'active', 'delayed');
  return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0;
}

/** The texts the bot posted in the round's parent channel (not its thread), accepted. */
export function channelPosts(world: World): string[] {
  return world.fake
    .requested('POST', new RegExp(`^/channels/${world.fake.channelId}/messages$`))
    .filter((r) => r.status === 200)
    .map((r) => String((r.body as { content?: string }).content ?? ''));
}

const MARKER_AUTHOR = member('marker');

/**
 * Waits until the bot has received and handled every event the fake sent so far: a
 * marker message goes down the same socket (outside any thread, so the bot ignores it);
 * once discord.js has it, every earlier event has reached the handlers.
 */
export async function settle(world: World): Promise<void> {
  const marker = String(world.fake.say(world.fake.channelId, MARKER_AUTHOR, 'marker').id);
  await until(async () => {
    const channel = world.discord.client.channels.cache.get(world.fake.channelId);
    return (channel?.isTextBased() && channel.messages.cache.has(marker)) || null;
  });
  await world.discord.idle();
}

export async function opinions(world: World, roundId: string) {
  return world.runtime.store.contributions.list(world.scope, roundId, 'opinion', 0);
}

export interface Embed {
  title?: string;
  description?: string;
  fields?: { name: string; value: string }[];
  image?: { url: string };
}

/** The embeds of a recorded body or an interaction's message. */
export function embedsOf(message: unknown): Embed[] {
  const embeds = (message as { embeds?: unknown } | null | undefined)?.embeds;
  return Array.isArray(embeds) ? (embeds as Embed[]) : [];
}

/** The first message the bot posted in the thread with an embed titled `title` (in part), once there is one. */
export function threadPost(world: World, threadId: string, title: string) {
  const inThread = new RegExp(`^/channels/${threadId}/messages$`);
  return world.fake.waitFor(
    () =>
      world.fake
        .requested('POST', inThread)
        .find((r) => embedsOf(r.body)[0]?.title?.includes(title)) ?? null,
    title,
  );
}

/** The id of a message the fake answered with. */
export function idOf(response: unknown): string {
  return String((response as { id?: unknown } | undefined)?.id);
}

/** A moderator by permission (Manage Server), as most tests' rounds are run. */
export const moderator = { user: MOD, permissions: PERMS.manageGuild };

/** Each member's rating of version 1 of a round, as the store counts it. */
export async function ratings(world: World, roundId: string): Promise<Record<string, string>> {
  const poll = await world.runtime.store.polls.poll(world.scope, roundId, 1);
  if (!poll) return {};
  const all = await world.runtime.store.polls.ratings(world.scope, poll);
  return Object.fromEntries(all.map((r) => [r.participantId, r.optionKey]));
}

export { PERMS, snowflake, until };

/** The text an interaction was answered with (its reply, or its first follow-up). */
export function contentOf(world: World, id: string): string {
  const reply = world.fake.reply(id);
  return String(reply.original?.content ?? reply.followUps[0]?.content);
}

/** A round with two opinions, closed; resolves once its statement is posted. */
export async function toStatement(world: World) {
  const { fake } = world;
  const { round, threadId } = await startRound(world);
  fake.say(threadId, ana, 'Four days, with a rota for Fridays.');
  fake.say(threadId, ben, 'Five days; customers expect us.');
  await settle(world);
  await fake.answered(fake.command('close', {}, moderator));
  const statement = await threadPost(world, threadId, 'Proposed statement');
  return { round, threadId, statementId: idOf(statement.response) };
}

/** …and once its three poll reactions are on and the round polls. */
export async function toPoll(world: World) {
  const posted = await toStatement(world);
  await world.fake.waitForRequest(
    'PUT',
    new RegExp(`/messages/${posted.statementId}/reactions/.+/@me$`),
    3,
  );
  await until(
    async () =>
      (await world.runtime.store.rounds.require(world.scope, posted.round.id)).phase ===
        'polling' || null,
  );
  return posted;
}
