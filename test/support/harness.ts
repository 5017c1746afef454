import type { Redis } from 'ioredis';
import { ConfigSchema } from '../../src/app/config.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import type { Actor } from '../../src/deliberation/ports.js';
import type { Log } from '../../src/domain/log.js';
import type { Scope } from '../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import type { Generator, RewardModel } from '../../src/models/ports.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { deletePrefix, testRedis } from './redis.js';

export const SCOPE: Scope = { platform: 'console', workspaceId: 'W1' };
export const CHANNEL = 'C1';
export const MODERATOR: Actor = { userId: 'mod', moderator: true, mayStart: true };
export const MEMBER = (id: string): Actor => ({ userId: id, moderator: false, mayStart: true });

/** Log lines recorded for assertions. */
export class RecordingLog implements Log {
  readonly lines: { level: string; fields: object; message: string }[] = [];
  debug(fields: object, message: string) {
    this.lines.push({ level: 'debug', fields, message });
  }
  info(fields: object, message: string) {
    this.lines.push({ level: 'info', fields, message });
  }
  warn(fields: object, message: string) {
    this.lines.push({ level: 'warn', fields, message });
  }
  error(fields: object, message: string) {
    this.lines.push({ level: 'error', fields, message });
  }
  child(): Log {
    return this;
  }
}

export interface Harness {
  runtime: Runtime;
  platform: ConsolePlatform;
  redis: Redis;
  log: RecordingLog;
  prefix: string;
  output: string[];
  stop(): Promise<void>;
}

/** The real runtime (store, BullMQ queues and workers on the test Redis) with a console platform. */
export async function startHarness(
  options: {
    generator?: Generator;
    rewardModel?: RewardModel;
    attempts?: number;
    now?: () => number;
    /** Further settings, as environment variables. */
    env?: Record<string, string>;
  } = {},
): Promise<Harness> {
  const env = testRedis();
  const redis = env.connect();
  const log = new RecordingLog();
  const output: string[] = [];
  const platform = new ConsolePlatform((text) => output.push(text));
  const config = ConfigSchema.parse({
    REDIS_PREFIX: env.prefix,
    JOB_ATTEMPTS: String(options.attempts ?? 2),
    JOB_BACKOFF_MS: '10',
    SHUTDOWN_TIMEOUT_MS: '5000',
    ...options.env,
  });
  const runtime = createRuntime({
    config,
    redis,
    log,
    generator: options.generator ?? new ExtractiveGenerator(),
    rewardModel: options.rewardModel ?? new LexicalRewardModel(),
    platforms: { console: platform },
    runWorkers: true,
    now: options.now,
  });
  return {
    runtime,
    platform,
    redis,
    log,
    prefix: env.prefix,
    output,
    async stop() {
      await runtime.close();
      await deletePrefix(redis, env.prefix);
      await redis.quit();
    },
  };
}

/** Replies in a round's thread as members would, one message each. */
export function replier(h: Harness, threadRootId: string) {
  return (messageId: string, userId: string, text: string, at: number, revision?: number) =>
    h.runtime.service.reply({
      scope: SCOPE,
      channelId: CHANNEL,
      threadRootId,
      messageId,
      userId,
      text,
      at,
      revision,
    });
}

/** Every member of `opinions` answers once (message `o-<id>`); returns the next free time. */
export async function postOpinions(
  h: Harness,
  threadRootId: string,
  opinions: Record<string, string> = OPINIONS,
  at = 1,
): Promise<number> {
  const reply = replier(h, threadRootId);
  for (const [id, text] of Object.entries(opinions)) await reply(`o-${id}`, id, text, at++);
  return at;
}

/** Starts a round and waits until its question is posted and linked. */
export async function startRound(
  h: Harness,
  question = 'Should our team adopt a four-day week?',
  settings = {},
) {
  const round = await h.runtime.service.start({
    scope: SCOPE,
    channelId: CHANNEL,
    actor: MODERATOR,
    question,
    settings,
  });
  const thread = await until(
    async () => (await h.runtime.store.rounds.require(SCOPE, round.id)).questionRef,
  );
  return { round, thread };
}

/**
 * A round with every member's opinion, closed and polling on its first statement;
 * returns it, its thread, the statement, the command target and the next free time.
 */
export async function roundPolling(h: Harness, settings = {}) {
  const { round, thread } = await startRound(h, undefined, settings);
  const at = await postOpinions(h, thread.messageId);
  const target = { scope: SCOPE, channelId: CHANNEL, roundId: round.id };
  await h.runtime.service.close(target, MODERATOR);
  const statement = await h.platform.waitFor('statement', round.id);
  return { round, thread, statement, target, at };
}

/**
 * A round with every member's opinion, closed, its statement posted, and collecting
 * critiques; returns it, its thread, and the next free time.
 */
export async function roundInCritique(h: Harness) {
  const { service } = h.runtime;
  const { round, thread, target, at } = await roundPolling(h);
  await service.critique(target, MODERATOR);
  await h.platform.waitFor('critique-invite', round.id);
  return { round, thread, target, at };
}

/** Resolves once the scope's publish queue is at rest: nothing waiting, running or delayed. */
export async function publishAtRest(h: Harness, scope: Scope = SCOPE): Promise<void> {
  const queue = h.runtime.queues.publishQueue(scope);
  await until(async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed');
    return (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0;
  });
}

export async function until<T>(
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const OPINIONS: Record<string, string> = {
  ana: 'Yes, a four-day week would reduce burnout and help us focus on what matters.',
  ben: 'No. Our customers expect us five days a week and support would suffer.',
  cai: 'Only if we keep Friday support coverage with a rota, and try it for three months first.',
  dee: 'I worry about cramming five days of work into four longer days; that is not a real gain.',
};
