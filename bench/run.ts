/**
 * `npm run bench`: figures, not pass/fail. Offline models, real Redis, real BullMQ
 * workers in this process. Prints medians of several runs.
 */
import { parseArgs } from 'node:util';
import { ConfigSchema } from '../src/app/config.js';
import { connectRedis } from '../src/app/redis.js';
import { startEphemeralRedis } from '../src/app/redis-server.js';
import { createRuntime } from '../src/app/runtime.js';
import type { Actor } from '../src/deliberation/ports.js';
import { silentLog } from '../src/domain/log.js';
import type { Scope } from '../src/domain/scope.js';
import { ExtractiveGenerator } from '../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../src/models/offline/lexical-reward-model.js';
import { ConsolePlatform } from '../src/platforms/console/console-platform.js';
import { SCENARIOS } from '../src/platforms/console/scenarios.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '50' },
    runs: { type: 'string', default: '3' },
    reactions: { type: 'string', default: '2000' },
  },
});
const ROUNDS = Number(values.rounds);
const RUNS = Number(values.runs);
const REACTIONS = Number(values.reactions);

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const scope: Scope = { platform: 'console', workspaceId: 'bench' };
const moderator: Actor = { userId: 'mod', moderator: true, mayStart: true };

async function main() {
  const redisServer = await startEphemeralRedis();
  const redis = await connectRedis(redisServer.url);
  const platform = new ConsolePlatform(() => {});
  const config = ConfigSchema.parse({ REDIS_PREFIX: 'bench', WORKER_CONCURRENCY: '16' });
  const runtime = createRuntime({
    config,
    redis,
    log: silentLog,
    generator: new ExtractiveGenerator(),
    rewardModel: new LexicalRewardModel(),
    platforms: { console: platform },
    runWorkers: true,
  });
  const { service, store } = runtime;
  const scenario = SCENARIOS[0]!;

  async function openRound(channelId: string) {
    const round = await service.start({
      scope,
      channelId,
      actor: moderator,
      question: scenario.question,
    });
    await platform.waitFor('question', round.id);
    let thread = null;
    while (!thread) thread = (await store.rounds.require(scope, round.id)).questionRef;
    let at = 1;
    for (const m of scenario.members) {
      await service.reply({
        scope,
        channelId,
        threadRootId: thread.messageId,
        messageId: `${round.id}-${m.id}`,
        userId: m.id,
        text: m.opinion,
        at: at++,
      });
    }
    return round;
  }

  const rows: string[][] = [];
  const single: number[] = [];
  const burst: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const round = await openRound(`single-${run}`);
    const t0 = performance.now();
    await service.close({ scope, channelId: `single-${run}` }, moderator);
    await platform.waitFor('statement', round.id, 60_000);
    single.push(performance.now() - t0);

    const rounds = await Promise.all(
      Array.from({ length: ROUNDS }, (_, i) => openRound(`burst-${run}-${i}`)),
    );
    const t1 = performance.now();
    await Promise.all(
      rounds.map((r) => service.close({ scope, channelId: r.channelId }, moderator)),
    );
    await Promise.all(rounds.map((r) => platform.waitFor('statement', r.id, 120_000)));
    burst.push(ROUNDS / ((performance.now() - t1) / 1000));
  }
  rows.push([
    'close -> statement published, one round, 7 members, K=8 (ms)',
    median(single).toFixed(1),
  ]);
  rows.push([`rounds per second, ${ROUNDS} rounds closing at once`, median(burst).toFixed(1)]);

  // Rating ingestion through the service into Redis.
  const polled = await openRound('ratings');
  await service.close({ scope, channelId: 'ratings' }, moderator);
  const statement = await platform.waitFor('statement', polled.id);
  const ingest: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const t = performance.now();
    await Promise.all(
      Array.from({ length: REACTIONS }, (_, i) =>
        service.react({
          scope,
          channelId: 'ratings',
          messageId: statement.ref.messageId,
          userId: `u${i % 500}`,
          optionKey: i % 2 ? 'agree' : 'disagree',
          at: run * REACTIONS + i,
          removed: false,
        }),
      ),
    );
    ingest.push(REACTIONS / ((performance.now() - t) / 1000));
  }
  rows.push([
    `reaction events per second through the service (${REACTIONS} at once)`,
    median(ingest).toFixed(0),
  ]);
  rows.push(['peak RSS of this process (MiB)', (process.resourceUsage().maxRSS / 1024).toFixed(0)]);

  console.log(`bench: offline models, real Redis (ephemeral), ${RUNS} runs each, median shown`);
  const width = Math.max(...rows.map((r) => r[0]!.length));
  for (const [label, value] of rows) console.log(`  ${label!.padEnd(width)}  ${value}`);

  await runtime.close();
  redis.disconnect();
  await redisServer.stop();
}

await main();
