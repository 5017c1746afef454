import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/app/config.js';
import { createRuntime, type Runtime } from '../../src/app/runtime.js';
import type { Scope } from '../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../src/models/offline/lexical-reward-model.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  OPINIONS,
  RecordingLog,
  startHarness,
  until,
} from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { refusal } from '../support/refusal.js';

// Two workspaces whose channel and member ids are the same (ids are only unique per platform
// workspace, and tests of one tenant must not pass because the other happens to differ).
const ONE: Scope = { platform: 'console', workspaceId: 'W1' };
const TWO: Scope = { platform: 'console', workspaceId: 'W2' };
const SECRET_OPINION = 'Workspace one only: our budget for next year is 1.2 million.';

describe('two workspaces with the same channel and user ids', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('never lets a command, opinion, rating or export of one reach the other', async () => {
    const { service, store } = h.runtime;
    const start = async (scope: Scope, question: string) => {
      const round = await service.start({ scope, channelId: CHANNEL, actor: MODERATOR, question });
      const thread = await until(
        async () => (await store.rounds.require(scope, round.id)).questionRef,
      );
      return { round, thread };
    };
    const reply = (scope: Scope, threadRootId: string, userId: string, text: string) =>
      service.reply({
        scope,
        channelId: CHANNEL,
        threadRootId,
        messageId: `m-${userId}`,
        userId,
        text,
        at: 1,
      });

    const one = await start(ONE, 'Where should the offsite be?');
    const members = Object.keys(OPINIONS);
    await reply(ONE, one.thread.messageId, 'ana', SECRET_OPINION);
    for (const id of members.slice(1))
      await reply(ONE, one.thread.messageId, id, OPINIONS[id] ?? '');

    // Workspace two has no open round in "the same" channel: commands find nothing there.
    const to = { scope: TWO, channelId: CHANNEL };
    // Each run only when awaited: a refusal nobody awaits yet is an unhandled rejection.
    for (const command of [
      () => service.status(to),
      () => service.results(to),
      () => service.export(to),
      () => service.close(to, MODERATOR),
      () => service.cancel(to, MODERATOR),
      // Even naming the other workspace's round id does not reach it.
      () => service.export({ ...to, roundId: one.round.id }),
      () => service.finish({ ...to, roundId: one.round.id }, MODERATOR),
    ]) {
      expect((await refusal(command())).code).toBe('not_found');
    }
    // A reply in workspace two to a thread with the same message id is not an opinion of one.
    const stray = await reply(TWO, one.thread.messageId, 'ben', 'Written in workspace two.');
    expect(stray.status).toBe('ignored');

    // Workspace two runs its own round in its "same" channel, with the same member ids.
    const two = await start(TWO, 'Which charity should we support?');
    for (const id of members) {
      await reply(TWO, two.thread.messageId, id, `${OPINIONS[id]} (said in workspace two)`);
    }
    await service.close({ scope: ONE, channelId: CHANNEL }, MODERATOR);
    await service.close({ scope: TWO, channelId: CHANNEL }, MODERATOR);
    const s1 = await h.platform.waitFor('statement', one.round.id);
    const s2 = await h.platform.waitFor('statement', two.round.id);

    // A rating on one's statement, delivered as workspace two, counts nowhere.
    const crossRating = await service.react({
      scope: TWO,
      channelId: CHANNEL,
      messageId: s1.ref.messageId,
      userId: 'ana',
      optionKey: 'agree',
      at: 5,
      removed: false,
    });
    expect(crossRating.status).toBe('ignored');
    await service.react({
      scope: TWO,
      channelId: CHANNEL,
      messageId: s2.ref.messageId,
      userId: 'ana',
      optionKey: 'disagree',
      at: 6,
      removed: false,
    });

    const [exportOne, exportTwo] = await Promise.all([
      service.export({ scope: ONE, channelId: CHANNEL }),
      service.export({ scope: TWO, channelId: CHANNEL }),
    ]);
    expect(exportOne.round.id).toBe(one.round.id);
    expect(exportTwo.round.id).toBe(two.round.id);
    expect(exportOne.versions[0]?.ratings).toEqual([]);
    expect(exportTwo.versions[0]?.ratings.map((r) => r.participantId)).toEqual(['ana']);
    const dumpTwo = JSON.stringify(exportTwo);
    expect(dumpTwo).not.toContain('budget');
    expect(dumpTwo).not.toContain(one.round.id);
    expect(JSON.stringify(exportOne)).not.toContain('workspace two');
    // Two's statement was written from two's opinions only.
    expect(s2.text).not.toContain('budget');
    expect((await service.status({ scope: ONE, channelId: CHANNEL })).opinions).toBe(4);
    expect((await service.status({ scope: TWO, channelId: CHANNEL })).opinions).toBe(4);

    // Every key of a tenant sits under its own root, so one workspace's data can be found,
    // exported or deleted without touching the other's.
    const keys = await h.redis.keys(`${h.prefix}:console.*`);
    const ofOne = keys.filter((k) => k.startsWith(`${h.prefix}:console.W1:`));
    const ofTwo = keys.filter((k) => k.startsWith(`${h.prefix}:console.W2:`));
    expect(ofOne.length + ofTwo.length).toBe(keys.length);
    expect(ofOne.some((k) => k.includes(two.round.id))).toBe(false);
    expect(ofTwo.some((k) => k.includes(one.round.id))).toBe(false);
  });
});

/**
 * One Slack app per workspace, each its own process, all on one Redis and one prefix (the
 * deployment the README gives for several workspaces). A process posts with its own
 * token only: had it taken another workspace's message, Slack would refuse it there
 * (channel_not_found), which reads as a channel gone and cancels that round.
 */
describe('two Slack installations, each its own process, on one Redis', () => {
  const A: Scope = { platform: 'slack', workspaceId: 'TAAAA' };
  const B: Scope = { platform: 'slack', workspaceId: 'TBBBB' };
  const redisEnv = testRedis();
  const processes: Runtime[] = [];
  let redis: Redis;
  afterEach(async () => {
    for (const runtime of processes.splice(0)) await runtime.close();
    await deletePrefix(redis, redisEnv.prefix);
    await redis.quit();
  });

  /** A bot process whose Slack connection is a recording port (standing in for its token). */
  function botProcess(scope: Scope): { runtime: Runtime; port: ConsolePlatform } {
    const port = new ConsolePlatform(() => {});
    const runtime = createRuntime({
      config: ConfigSchema.parse({ REDIS_PREFIX: redisEnv.prefix, JOB_BACKOFF_MS: '10' }),
      redis,
      log: new RecordingLog(),
      generator: new ExtractiveGenerator(),
      rewardModel: new LexicalRewardModel(),
      platforms: { slack: port },
      runWorkers: true,
    });
    runtime.publishFor(scope);
    processes.push(runtime);
    return { runtime, port };
  }

  it("leaves another workspace's messages to that workspace's process", async () => {
    redis = redisEnv.connect();
    const a = botProcess(A);
    // Workspace B's round is started while only A's process takes publish jobs (B's bot
    // is restarting, say): its question waits for B's process.
    const round = await a.runtime.service.start({
      scope: B,
      channelId: CHANNEL,
      actor: MODERATOR,
      question: 'Where should the offsite be?',
    });
    await until(
      async () =>
        (await a.runtime.queues.publishQueue(B).getJobCounts('waiting')).waiting === 1 || null,
    );
    // A's worker is idle meanwhile, and leaves the job where it is: in B's queue, not its own.
    await new Promise((r) => setTimeout(r, 300));
    expect(a.port.posted).toEqual([]);
    expect((await a.runtime.queues.publishQueue(B).getJobCounts('waiting')).waiting).toBe(1);
    expect(a.runtime.queues.servedPublishQueues().map((q) => q.name)).toEqual([
      'publish.slack.TAAAA',
    ]);
    const b = botProcess(B);
    const question = await b.port.waitFor('question', round.id);
    expect(question.text).toContain('Where should the offsite be?');
    expect(a.port.posted).toEqual([]);
    expect((await b.runtime.store.rounds.require(B, round.id)).phase).toBe('collecting');
  });
});
