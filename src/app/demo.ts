import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Actor } from '../deliberation/ports.js';
import { DomainError } from '../domain/errors.js';
import type { Log } from '../domain/log.js';
import { PollScaleSchema } from '../domain/poll-scale.js';
import { createRng } from '../domain/random.js';
import type { Scope } from '../domain/scope.js';
import { WelfareNameSchema } from '../domain/welfare-name.js';
import { ConsolePlatform } from '../platforms/console/console-platform.js';
import {
  findScenario,
  SCENARIOS,
  type Scenario,
  scenarioFromQuestion,
} from '../platforms/console/scenarios.js';
import { simulatedReaction } from '../platforms/console/simulation.js';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { chooseModels } from './models.js';
import { loadQuestionBank } from './question-bank.js';
import { connectRedis } from './redis.js';
import { hasRedisServerBinary, NO_REDIS_HELP, startEphemeralRedis } from './redis-server.js';
import { createRuntime } from './runtime.js';

const USAGE = `Usage: npm run demo -- [options]
  --question "<text>"   ask this question (members' opinions are simulated around it)
  --bank                pick a question from the Habermas question bank (by seed)
  --scenario <id>       one of: ${SCENARIOS.map((s) => s.id).join(', ')}
  --seed <n>            seed for every random choice (default 1)
  --welfare <name>      utilitarian | egalitarian | nash | schulze | bridging (default egalitarian)
  --scale <name>        approval3 | likert7 (default approval3)
  --no-critique         skip the critique-and-revise round
  --chart <file.png>    also write the results chart (PNG) to this file
  --help`;

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      question: { type: 'string' },
      bank: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      seed: { type: 'string', default: '1' },
      welfare: { type: 'string', default: 'egalitarian' },
      scale: { type: 'string', default: 'approval3' },
      critique: { type: 'boolean', default: true },
      'no-critique': { type: 'boolean', default: false },
      chart: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error('--seed takes a whole number');
  return {
    ...values,
    critique: values.critique && !values['no-critique'],
    seed,
    welfare: oneOf('--welfare', WelfareNameSchema, values.welfare),
    scale: oneOf('--scale', PollScaleSchema, values.scale),
  };
}

/** A flag's value checked against its enum, with a sentence instead of zod's report. */
function oneOf<T extends string>(
  flag: string,
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false };
    options: readonly T[];
  },
  value: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new Error(`${flag} takes one of ${schema.options.join(', ')}; got "${value}"`);
  return parsed.data;
}

type Options = ReturnType<typeof parseOptions>;

/** The question and the simulated group, from the flags. */
export function pickScenario(
  options: Pick<Options, 'question' | 'bank' | 'scenario' | 'seed'>,
): Scenario {
  if (options.scenario) {
    const found = findScenario(options.scenario);
    if (!found) throw new Error(`Unknown scenario "${options.scenario}". ${USAGE}`);
    return found;
  }
  if (options.question !== undefined) {
    const text = options.question.trim();
    const known = SCENARIOS.find((s) => s.question.toLowerCase() === text.toLowerCase());
    if (known) return known;
    const bank = loadQuestionBank();
    const record = bank.find((q) => q.question.toLowerCase() === text.toLowerCase()) ?? {
      question: text,
      affirming_statement: `The answer to "${text.replace(/\?$/, '')}" is yes.`,
      negating_statement: `The answer to "${text.replace(/\?$/, '')}" is no.`,
    };
    return scenarioFromQuestion(record, { seed: options.seed });
  }
  if (options.bank) {
    const bank = loadQuestionBank();
    const rng = createRng(options.seed);
    const record = bank[Math.floor(rng.next() * bank.length)];
    if (!record) throw new Error('The question bank is empty.');
    return scenarioFromQuestion(record, { seed: options.seed });
  }
  return SCENARIOS[options.seed % SCENARIOS.length] as Scenario;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const started = Date.now();
  const config = loadConfig();
  const log: Log = createLogger(process.env.LOG_LEVEL ?? 'warn');
  // Before any process is started, so a bad flag leaves nothing running.
  let scenario: Scenario;
  try {
    scenario = pickScenario(options);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 2;
  }

  let redisUrl = config.REDIS_URL;
  if (!redisUrl) {
    if (!hasRedisServerBinary()) {
      console.error(NO_REDIS_HELP);
      return 1;
    }
    const ephemeral = await startEphemeralRedis();
    redisUrl = ephemeral.url;
    stopEphemeralRedis = ephemeral.stop;
  }
  try {
    return await runDemo(config, log, redisUrl, scenario, options, started);
  } finally {
    await stopEphemeralRedis();
  }
}

/** Stops the throwaway redis-server, once, whichever way the demo ends. */
let stopEphemeralRedis = async () => {};

async function runDemo(
  config: ReturnType<typeof loadConfig>,
  log: Log,
  redisUrl: string,
  scenario: Scenario,
  options: Options,
  started: number,
): Promise<number> {
  const redis = await connectRedis(redisUrl);
  const names = new Map(scenario.members.map((m) => [m.id, m.name]));
  const chartPath = options.chart;
  const consolePlatform = new ConsolePlatform(
    (text) => console.log(text),
    (id) => names.get(id) ?? id,
    chartPath === undefined
      ? null
      : (_filename, png) => {
          writeFileSync(chartPath, png);
          console.log(`  (chart written to ${chartPath})`);
        },
  );
  const models = chooseModels(config, log);
  // A demo's keys live under their own root so a shared Redis keeps nothing of it.
  const demoConfig = { ...config, REDIS_PREFIX: `${config.REDIS_PREFIX}-demo-${process.pid}` };
  const runtime = createRuntime({
    config: demoConfig,
    redis,
    log,
    generator: models.generator,
    rewardModel: models.rewardModel,
    platforms: { console: consolePlatform },
    runWorkers: true,
    // Round seeds from --seed too, so the same flags replay the same round (its shuffles
    // and samples), with a model server as offline.
    newSeed: (() => {
      const rounds = createRng(`rounds-${options.seed}`);
      return () => Math.floor(rounds.next() * 2 ** 31);
    })(),
  });
  try {
    console.log(
      `Consensus bot demo — ${models.description}; Redis ${config.REDIS_URL ? 'from REDIS_URL' : 'throwaway'}.`,
    );
    await playRound(runtime.service, consolePlatform, scenario, options);
    console.log(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
    return 0;
  } finally {
    await runtime.close();
    await cleanupPrefix(redis, demoConfig.REDIS_PREFIX);
    redis.disconnect();
  }
}

async function cleanupPrefix(redis: import('ioredis').Redis, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** One whole round, as members would play it in a channel. */
async function playRound(
  service: import('../deliberation/service.js').DeliberationService,
  platform: ConsolePlatform,
  scenario: Scenario,
  options: Options,
) {
  const scope: Scope = { platform: 'console', workspaceId: 'demo' };
  const channelId = 'demo-channel';
  const moderator: Actor = { userId: 'moderator', moderator: true, mayStart: true };
  const rng = createRng(options.seed);

  const round = await service.start({
    scope,
    channelId,
    actor: moderator,
    question: scenario.question,
    settings: { welfare: options.welfare, scale: options.scale },
  });
  await platform.waitFor('question', round.id);
  // The publisher links the thread to the round right after posting it.
  let thread = null;
  for (let i = 0; i < 200 && !thread; i++) {
    thread = (await service.resolve({ scope, channelId, roundId: round.id })).questionRef;
    if (!thread) await new Promise((r) => setTimeout(r, 10));
  }
  if (!thread) throw new Error('the question was posted but never linked to the round');

  let at = Date.now();
  for (const member of scenario.members) {
    console.log(`  💬 ${member.name}: ${member.opinion}`);
    await service.reply({
      scope,
      channelId,
      threadRootId: thread.messageId,
      messageId: `reply-${member.id}`,
      userId: member.id,
      text: member.opinion,
      at: at++,
    });
  }

  const target = { scope, channelId, roundId: round.id };
  const nameOf = (id: string) => scenario.members.find((m) => m.id === id)?.name ?? id;

  /** Members react to a posted statement: noisy around their predicted approval. */
  async function react(version: number) {
    const statement = await statementOrFailure(platform, round.id, version);
    const view = await service.statementView(await service.resolve(target), version);
    console.log('\n  Members react:');
    for (const p of view.predicted) {
      const key = simulatedReaction(p.approval, options.scale, rng);
      console.log(`    ${nameOf(p.participantId).padEnd(12)} ${key}`);
      await service.react({
        scope,
        channelId,
        messageId: statement.ref.messageId,
        userId: p.participantId,
        optionKey: key,
        at: at++,
        removed: false,
      });
    }
    return view;
  }

  console.log('\n  /consensus close');
  await service.close(target, moderator);
  const first = await react(1);

  if (options.critique) {
    // The members the statement serves worst say what it misses, in their own words.
    console.log('\n  /consensus critique');
    await service.critique(target, moderator);
    await platform.waitFor('critique-invite', round.id);
    const critics = first.predicted
      .filter((p) => p.approval !== null)
      .slice(-2)
      .map((p) => scenario.members.find((m) => m.id === p.participantId))
      .filter((m): m is Scenario['members'][number] => m !== undefined);
    for (const member of critics) {
      const critique = `It leaves out what matters most to me: ${missedPoint(member.opinion, first.statement)}`;
      console.log(`  ✍️  ${member.name}: ${critique}`);
      await service.reply({
        scope,
        channelId,
        threadRootId: thread.messageId,
        messageId: `critique-${member.id}`,
        userId: member.id,
        text: critique,
        at: at++,
      });
    }
    console.log('\n  /consensus close');
    await service.close(target, moderator);
    await react(2);
  }

  console.log('\n  /consensus finish');
  await service.finish(target, moderator);
  await platform.waitFor('results', round.id);
  const { usage } = await service.status(target);
  console.log(`\n${describeUsage(usage)}`);
}

/**
 * The sentence of a member's opinion the statement carries least of: the longest one not
 * quoted in it (a bare "No." is a stance, not a point a revision could take up).
 */
function missedPoint(opinion: string, statement: string): string {
  const sentences = opinion
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const missing = sentences.filter((s) => !statement.includes(s));
  const pool = missing.length > 0 ? missing : sentences;
  return pool.reduce((best, s) => (s.length > best.length ? s : best), pool[0] ?? opinion);
}

/** The statement, or the failure notice's reason when the run failed (e.g. the model server is down). */
async function statementOrFailure(platform: ConsolePlatform, roundId: string, version: number) {
  const failed = platform.waitFor('notice', roundId).then(
    (notice) => Promise.reject(new Error(notice.text.replace(/^\s*!\s*/, ''))),
    () => new Promise<never>(() => {}),
  );
  return Promise.race([platform.waitFor('statement', roundId, 30_000, version), failed]);
}

type StageUsage = { calls: number; promptTokens: number; completionTokens: number };

/** "Model use this round: generate 8 calls, ... tokens; ..." */
function describeUsage(usage: Record<string, StageUsage>): string {
  const stages = Object.entries(usage).filter(([, u]) => u.calls > 0);
  if (stages.length === 0) return '  Model use this round: no model calls (offline models).';
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = stages.map(
    ([stage, u]) =>
      `    ${stage.padEnd(9)} ${String(u.calls).padStart(3)} calls  ${n(u.promptTokens).padStart(8)} prompt + ${n(u.completionTokens).padStart(7)} completion tokens`,
  );
  const total = stages.reduce(
    (t, [, u]) => ({
      calls: t.calls + u.calls,
      promptTokens: t.promptTokens + u.promptTokens,
      completionTokens: t.completionTokens + u.completionTokens,
    }),
    { calls: 0, promptTokens: 0, completionTokens: 0 },
  );
  return [
    '  Model use this round:',
    ...lines,
    `    ${'total'.padEnd(9)} ${String(total.calls).padStart(3)} calls  ${n(total.promptTokens).padStart(8)} prompt + ${n(total.completionTokens).padStart(7)} completion tokens`,
  ].join('\n');
}

// Interrupted (Ctrl-C, a timeout's SIGTERM): the throwaway Redis goes with the demo.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void stopEphemeralRedis().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  (code) => process.exit(code),
  async (error) => {
    const message =
      error instanceof DomainError || error instanceof Error ? error.message : String(error);
    console.error(`Demo failed: ${message}`);
    await stopEphemeralRedis().catch(() => undefined);
    process.exit(1);
  },
);
